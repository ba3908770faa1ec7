import type { Status } from '../review/workflow.ts'
import type { ClaimRecords } from './claims.ts'

/**
 * What an evidence pack is made of: read by the pack builder (pack.ts) and
 * the report it renders (report.ts), defined apart from both so that they
 * import it one way.
 */

/** One alert as it goes into a pack: the detection, where it sits, its workflow now. */
export interface PackAlert {
  alert_id: string
  detector: { id: string; version: string; params_hash: string }
  result: string
  severity: string
  stage: string
  subject: { fixmedins_code: string; psn_no?: string; doctor?: string; mdtrt_id?: string; setl_id?: string }
  refs: { mdtrt_ids: string[]; feedetl_sns: string[]; setl_ids: string[]; event_ids: string[] }
  amount_at_risk: string
  title: { zh: string; en: string }
  message: { zh: string; en: string }
  evidence: Record<string, unknown>
  basis: { zh: string; en: string }
  event_time: string
  detected_at: string
  institution_name: string | null
  workflow: { status: Status; assignee_name: string | null; due_at: string | null; overdue: boolean; decision: { recovered_amount: string; penalty_amount: string; measures: string } | null; dismiss_reason: string | null }
}

export interface PackInput {
  case: {
    case_id: string; title: string; status: string; note: string; created_at: string; created_by: string
    subject: { kind: string; fixmedins_code: string; doctor: string; psn_no: string }
    institution_name: string | null
  }
  alerts: PackAlert[]
  claims: ClaimRecords
  timeline: { at: string; what: string; by_name: string; reason: string; alert_id: string | null }[]
  generated_at: string
  generated_by: { id: string; name: string; role: string }
  purpose: string
  /** Personal identifiers unmasked (inspector with a purpose); otherwise masked throughout. */
  revealed: boolean
}
