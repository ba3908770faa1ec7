// The shapes the console reads are the API's own response schemas
// (src/api/schemas.ts, which also generate the OpenAPI document at /docs/json),
// taken on their wire side (z.input: what the API encodes to) and as types
// only, so the console and the API cannot drift apart. Type imports vanish
// from the bundle.
import type { z } from 'zod'
import type * as Api from '../../src/api/schemas.ts'

export type Text = { zh: string; en: string }
export type Status = Workflow['status']
export const OPEN_STATUSES: Status[] = ['new', 'first_review', 'second_review', 'appeal', 'investigation']
export const ALL_STATUSES: Status[] = [...OPEN_STATUSES, 'decided', 'dismissed']

export type Workflow = z.input<typeof Api.Workflow>
export type Decision = NonNullable<Workflow['decision']>
export type AlertItem = z.input<typeof Api.AlertItem>
export type Action = z.input<typeof Api.Action>
export type Visit = z.input<typeof Api.Visit>
export type Discharge = z.input<typeof Api.Discharge>
export type FeeLine = z.input<typeof Api.FeeLine>
export type Settlement = z.input<typeof Api.Settlement>
export type Case = z.input<typeof Api.Case>
export type TimelineEntry = z.input<typeof Api.TimelineEntry>
export type DetectorInfo = z.input<typeof Api.DetectorInfo>
export type InstitutionRisk = z.input<typeof Api.InstitutionRisk>

export interface AlertDetail {
  alert: AlertItem
  history: Action[]
  visits: Visit[]
  discharges: Discharge[]
  /** Every line of the visits the alert refers to; `flagged` = named by the alert, `reversed` = withdrawn. */
  fee_lines: FeeLine[]
  settlements: Settlement[]
  revealed: boolean
}

export interface WorkflowConfig {
  statuses: { status: Status; zh: string; en: string; days: number | null }[]
  transitions: { from: Status; to: Status; roles: string[]; reason_required: boolean; decision_required: boolean }[]
  working_days: boolean
}

export interface CaseDetail {
  case: Case
  alerts: AlertItem[]
  timeline: TimelineEntry[]
  totals: { amount_at_risk: string; recovered_amount: string; penalty_amount: string; alerts: number; open_alerts: number }
}

export interface MeInfo { id: string; name: string; role: string; admdvs: string[]; fixmedins_codes: string[] }
