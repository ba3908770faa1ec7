import { z } from 'zod'

/**
 * What a backtest reports (docs/api.md, "Rule backtest"): per detector, the
 * alerts standing at the end of the window under the rule base in force
 * (baseline) and under the candidate, and how they differ. One source for the
 * CLI's JSON, the API's response schema and the console's types.
 */
export const RuleMode = z.enum(['on', 'shadow', 'off'])

const Brief = z.object({ amount_at_risk: z.string(), severity: z.string(), result: z.string() })

export const AlertBrief = z.object({
  alert_id: z.string(), fixmedins_code: z.string(), psn_no: z.string(), mdtrt_id: z.string(),
  amount_at_risk: z.string(), severity: z.string(), result: z.string(), message_zh: z.string(), message_en: z.string(),
})
export type AlertBrief = z.infer<typeof AlertBrief>

const Count = z.object({ alerts: z.number().int(), amount_at_risk: z.string() })
const Delta = z.object({ count: z.number().int(), amount_at_risk: z.string(), sample: z.array(AlertBrief) })
const PR = z.object({ precision: z.number().nullable(), recall: z.number().nullable() })

export const DetectorDiff = z.object({
  detector: z.string(),
  baseline_mode: RuleMode, candidate_mode: RuleMode,
  baseline: Count, candidate: Count,
  added: Delta, removed: Delta,
  changed: z.object({ count: z.number().int(), sample: z.array(z.object({ alert_id: z.string(), before: Brief, after: Brief })) }),
  precision: z.object({ baseline: z.number().nullable(), candidate: z.number().nullable(), reviewed_baseline: z.number().int(), reviewed_candidate: z.number().int() }),
  labels: z.object({ baseline: PR, candidate: PR }).optional(),
})
export type DetectorDiff = z.infer<typeof DetectorDiff>

export const BacktestResult = z.object({
  window: z.object({ from: z.string(), to: z.string() }),
  baseline_hash: z.string(), candidate_hash: z.string(),
  /** Events of the window replayed (the warm-up before it not counted), their fee lines, and the time taken. */
  events: z.number().int(), fee_lines: z.number().int(), elapsed_ms: z.number(),
  /** Events read for the warm-up (state only, their alerts not reported). */
  warmup_events: z.number().int(),
  /** Stored events whose raw text no longer decodes (a contract change since): skipped, counted. */
  skipped: z.number().int(),
  labelled: z.boolean(),
  detectors: z.array(DetectorDiff),
})
export type BacktestResult = z.infer<typeof BacktestResult>

/** At most this many alerts in each sample. */
export const SAMPLE = 20
