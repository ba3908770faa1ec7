import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { DateOnly } from '../../schemas/common.ts'
import { FundwatchError } from '../errors.ts'

const days = (d: number, what: string) => z.number().int().min(1).max(365).default(d).describe(`${what}: deadline in working days`)

/**
 * The handling deadlines (办理时限) per step, in working days, and the calendar
 * that defines a working day. Parsed once and frozen. Defaults follow the common
 * local practice; a region sets its own in FUNDWATCH_REVIEW (YAML or JSON file).
 */
export const ReviewConfig = z.object({
  deadlines: z.object({
    new: days(2, '待处理 new → start of 初审'),
    first_review: days(5, '初审 first review'),
    second_review: days(5, '复审 second review'),
    appeal: days(10, '申诉 the institution\'s appeal'),
    investigation: days(20, '调查核实 investigation'),
  }).strict().default({ new: 2, first_review: 5, second_review: 5, appeal: 10, investigation: 20 }),
  holidays: z.array(DateOnly).default([]).describe('Public holidays that fall on weekdays (not working days)'),
  workdays: z.array(DateOnly).default([]).describe('Weekend days that are working days (调休)'),
}).strict()
export type ReviewConfig = Readonly<z.infer<typeof ReviewConfig>>

export function reviewConfig(input: unknown = {}): ReviewConfig {
  const r = ReviewConfig.safeParse(input)
  if (!r.success) throw new FundwatchError('CONFIG_INVALID', `review config: ${r.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ')}`)
  return Object.freeze(r.data)
}

/** FUNDWATCH_REVIEW names a YAML or JSON file; unset = defaults. */
export function reviewConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ReviewConfig {
  const file = env.FUNDWATCH_REVIEW
  if (!file) return reviewConfig({})
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new FundwatchError('CONFIG_INVALID', `cannot read review config ${file}`, { cause })
  }
  return reviewConfig(/\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text))
}
