import { createHash } from 'node:crypto'
import { z } from 'zod'
import { Result, Severity, Stage } from '../../schemas/index.ts'

/**
 * The rule base (规则库) as configuration: which detectors run, with which
 * parameters, where (region, institution level and type, scenario) and with
 * which judgement (违规/可疑, severity). Parameters are validated against each
 * detector's own schema by the engine.
 */
export const DetectorRule = z
  .object({
    enabled: z.boolean().default(true),
    params: z.record(z.string(), z.unknown()).default({}).describe('Overrides of the detector parameters'),
    result: Result.optional().describe('Overrides the detector default: violation 违规 or suspicious 可疑'),
    severity: Severity.optional(),
    stages: z.array(Stage).optional().describe('Restrict to these stages (subset of what the detector supports)'),
    scope: z
      .object({
        admdvs: z.array(z.string().regex(/^\d{2,6}$/)).optional().describe('Institution region code prefixes, e.g. 3707 = Weifang'),
        levels: z.array(z.number().int().min(0).max(3)).optional(),
        types: z.array(z.string()).optional().describe('Institution types, e.g. 综合医院'),
        med_types: z.array(z.string()).optional().describe('医疗类别 of the visit (scenario), e.g. 21 for 住院'),
      })
      .strict()
      .default({}),
  })
  .strict()

export const RuleBaseConfig = z
  .object({
    version: z.string().default('1'),
    defaults: z.object({ enabled: z.boolean().default(true) }).strict().default({ enabled: true }),
    detectors: z.record(z.string(), DetectorRule).default({}),
  })
  .strict()

export type RuleBaseConfig = z.infer<typeof RuleBaseConfig>
export type DetectorRule = z.infer<typeof DetectorRule>

/** Stable JSON (sorted keys) so equal parameters always hash the same. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(v)
}

export function paramsHash(params: unknown): string {
  return createHash('sha256').update(stableJson(params)).digest('hex').slice(0, 12)
}
