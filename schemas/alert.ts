import { z } from 'zod'
import { DateTime, FixmedinsCode, MoneySum } from './common.ts'

export const Stage = z.enum(['pre', 'in', 'post']).describe('pre 事前提醒, in 事中预警, post 事后审核')
export const Result = z.enum(['violation', 'suspicious']).describe('violation 违规, suspicious 可疑')
export const Severity = z.enum(['low', 'medium', 'high', 'critical'])
export const Text = z.object({ zh: z.string(), en: z.string() })
export const AlertStatus = z.enum(['active', 'updated', 'withdrawn'])
  .describe('active: as first raised; updated: amount or evidence changed by later facts; withdrawn: the facts it rested on are gone')
export const WithdrawnReason = z.enum(['reversed', 'reconciled_at_discharge', 'superseded'])
  .describe('reversed: lines or a settlement it rested on were reversed, or its visit (or discharge) was cancelled or corrected (visit.cancelled, visit.updated); reconciled_at_discharge: the discharge or settlement showed it does not hold; superseded: another alert of the same detector now covers its facts')

export const Alert = z.object({
  alert_id: z.string().regex(/^[0-9a-f]{32}$/).describe('Deterministic: detector id + the facts the finding is about'),
  schema_version: z.literal(1),
  detector: z.object({
    id: z.string(),
    version: z.string(),
    params_hash: z.string().regex(/^[0-9a-f]{12}$/).describe('Hash of the parameters that produced the finding'),
  }),
  result: Result,
  severity: Severity,
  stage: Stage,
  subject: z.object({
    fixmedins_code: FixmedinsCode,
    psn_no: z.string().optional(),
    doctor: z.string().optional(),
    mdtrt_id: z.string().optional(),
    setl_id: z.string().optional(),
  }),
  refs: z.object({
    mdtrt_ids: z.array(z.string()),
    feedetl_sns: z.array(z.string()),
    setl_ids: z.array(z.string()),
    event_ids: z.array(z.string()),
  }),
  amount_at_risk: MoneySum.describe('Money in yuan, two decimals; a sum, so it may exceed one field\'s N(16,2)'),
  title: Text,
  message: Text,
  evidence: z.record(z.string(), z.unknown()),
  basis: Text,
  event_time: DateTime.describe('The event that first raised it; kept by later revisions'),
  detected_at: DateTime.describe('When it was first raised; kept by later revisions'),
  revision: z.number().int().min(1).describe('1 when raised; each change of status, amount or evidence is a new revision of the same alert_id, the previous kept'),
  status: AlertStatus,
  withdrawn_reason: WithdrawnReason.optional().describe('Set when status is withdrawn'),
  revised_at: DateTime.describe('When this revision was made (detected_at for revision 1)'),
  revision_event_id: z.string().optional().describe('The event whose processing made this revision (a reversal, a discharge, …); absent for audit (事后) alerts'),
})
export type Alert = z.infer<typeof Alert>
export type AlertStatus = z.infer<typeof AlertStatus>
export type WithdrawnReason = z.infer<typeof WithdrawnReason>
export type Stage = z.infer<typeof Stage>
export type Result = z.infer<typeof Result>
export type Severity = z.infer<typeof Severity>
export type Text = z.infer<typeof Text>

/** A dead-letter record, as written to the DLQ topic and the dead_letters table. */
export const DeadLetter = z.object({
  dlq_id: z.string(),
  reason: z.string().describe('Machine-readable reason code, e.g. schema.invalid_type@payload.lines.0.cnt'),
  detail: z.string(),
  source: z.string().describe('Where it came from: topic/partition/offset or file:line'),
  received_at: DateTime,
  raw_base64: z.string().describe('The original bytes'),
})
export type DeadLetter = z.infer<typeof DeadLetter>
