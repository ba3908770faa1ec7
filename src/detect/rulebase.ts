import { createHash } from 'node:crypto'
import { z } from 'zod'
import { Result, Severity, Stage } from '../../schemas/index.ts'
import { PATTERNS, type PatternId } from './patterns.ts'

/**
 * The rule base (规则库) as configuration: which detectors run, with which
 * parameters, where (region, institution level and type, scenario) and with
 * which judgement (违规/可疑, severity). Parameters are validated against each
 * detector's own schema by the engine.
 */
/**
 * How a detector runs: `on` (live: its alerts reach the feed, the alerts
 * topic and the pre-check answer), `shadow` (it runs in the live pipeline
 * but its alerts go to the shadow_alerts table only, docs/review.md "Shadow
 * rules"), `off` (not run). `enabled: false`, the older spelling, means `off`.
 */
export const RuleMode = z.enum(['on', 'shadow', 'off'])
export type RuleMode = z.infer<typeof RuleMode>

export const DetectorRule = z
  .object({
    mode: RuleMode.optional().describe('on (live), shadow (runs, alerts kept apart from the feed, topic and pre-check) or off; default on (or defaults.enabled)'),
    enabled: z.boolean().optional().describe('Older spelling: false = mode off. With mode, only enabled: true agrees with on/shadow'),
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
  // enabled:false says off; a mode that says otherwise is a contradiction the author must resolve.
  .refine((r) => !(r.enabled === false && r.mode !== undefined && r.mode !== 'off'), { message: 'enabled: false contradicts mode (use mode: off, or drop enabled)', path: ['enabled'] })

export const RuleBaseConfig = z
  .object({
    version: z.string().default('1'),
    defaults: z.object({ enabled: z.boolean().default(true) }).strict().default({ enabled: true }),
    detectors: z.record(z.string(), DetectorRule).default({}),
  })
  .strict()

export type RuleBaseConfig = z.infer<typeof RuleBaseConfig>
export type DetectorRule = z.infer<typeof DetectorRule>

/**
 * A rule's mode: `mode` when given, else `enabled: false` = off, else on. A
 * detector the rule base does not name follows `defaults.enabled` (as before modes).
 */
export function ruleMode(rule: DetectorRule | undefined, defaultEnabled: boolean): RuleMode {
  if (rule === undefined) return defaultEnabled ? 'on' : 'off'
  if (rule.mode !== undefined) return rule.mode
  return rule.enabled === false ? 'off' : 'on'
}

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

/**
 * National-style rule ids (规则ID, the `rule_id` of the national 3101/3102
 * answer), one per detector, stable across versions and deployments: an HIS
 * selects rules by them (`rule_ids`) and files 3103 feedback against them. The
 * name (规则名称) is the detector's pattern (src/detect/patterns.ts).
 * `FW` marks them as fundwatch's (the platform's own ids, e.g. R0103, are
 * region-defined), then R, a group and a number:
 * 01 项目类 (one item or line is wrong), 02 就诊类/行为类 (the visit or the
 * person's pattern of visits), 03 事后 analyses over history.
 * `vola_bhvr_type` is the national 违规行为分类: 1 就诊类/行为类, 2 项目类.
 * An id is never reused or renumbered; a new detector takes the next number.
 */
export const NATIONAL_RULES = {
  'duplicate-charge': { rule_id: 'FWR0101', vola_bhvr_type: '2' },
  'restricted-item': { rule_id: 'FWR0102', vola_bhvr_type: '2' },
  'over-standard-charge': { rule_id: 'FWR0103', vola_bhvr_type: '2' },
  'out-of-scope': { rule_id: 'FWR0104', vola_bhvr_type: '2' },
  'over-quantity': { rule_id: 'FWR0105', vola_bhvr_type: '2' },
  unbundling: { rule_id: 'FWR0106', vola_bhvr_type: '2' },
  'service-level-upcoding': { rule_id: 'FWR0107', vola_bhvr_type: '2' },
  'high-value-consumable': { rule_id: 'FWR0108', vola_bhvr_type: '2' },
  'dialysis-frequency': { rule_id: 'FWR0109', vola_bhvr_type: '2' },
  'split-hospitalization': { rule_id: 'FWR0201', vola_bhvr_type: '1' },
  'split-prescription': { rule_id: 'FWR0202', vola_bhvr_type: '1' },
  'phantom-service': { rule_id: 'FWR0203', vola_bhvr_type: '1' },
  'bed-holding': { rule_id: 'FWR0204', vola_bhvr_type: '1' },
  'drg-upcoding': { rule_id: 'FWR0205', vola_bhvr_type: '1' },
  'frequent-visits': { rule_id: 'FWR0206', vola_bhvr_type: '1' },
  'drug-hoarding': { rule_id: 'FWR0207', vola_bhvr_type: '1' },
  'identity-misuse': { rule_id: 'FWR0208', vola_bhvr_type: '1' },
  'chronic-disease-abuse': { rule_id: 'FWR0209', vola_bhvr_type: '1' },
  'provider-outlier': { rule_id: 'FWR0301', vola_bhvr_type: '1' },
  'case-mix-drift': { rule_id: 'FWR0302', vola_bhvr_type: '1' },
  collusion: { rule_id: 'FWR0303', vola_bhvr_type: '1' },
  'inventory-mismatch': { rule_id: 'FWR0304', vola_bhvr_type: '1' },
  'capacity-exceeded': { rule_id: 'FWR0305', vola_bhvr_type: '1' },
} as const satisfies Record<PatternId, { rule_id: string; vola_bhvr_type: '1' | '2' }>

export interface NationalRule { rule_id: string; rule_name: string; vola_bhvr_type: '1' | '2'; detector: string }

/** A detector's national rule: id, name (its pattern's zh), behaviour class. Undefined for an id that is no pattern. */
export function nationalRule(detectorId: string): NationalRule | undefined {
  const r = (NATIONAL_RULES as Record<string, { rule_id: string; vola_bhvr_type: '1' | '2' } | undefined>)[detectorId]
  const p = (PATTERNS as Record<string, { zh: string } | undefined>)[detectorId]
  return r && p ? { rule_id: r.rule_id, rule_name: p.zh, vola_bhvr_type: r.vola_bhvr_type, detector: detectorId } : undefined
}

/** Every national rule, in rule-id order. */
export function nationalRules(): NationalRule[] {
  return Object.keys(NATIONAL_RULES).map((id) => nationalRule(id)!).sort((a, b) => a.rule_id.localeCompare(b.rule_id))
}
