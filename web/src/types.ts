// The shapes the console reads, as docs/api.md describes them (the OpenAPI
// document at /docs/json is the authority). Only the fields the console uses.

export type Text = { zh: string; en: string }
export type Status = 'new' | 'first_review' | 'second_review' | 'appeal' | 'investigation' | 'decided' | 'dismissed'
export const OPEN_STATUSES: Status[] = ['new', 'first_review', 'second_review', 'appeal', 'investigation']
export const ALL_STATUSES: Status[] = [...OPEN_STATUSES, 'decided', 'dismissed']

export interface Decision { recovered_amount: string; penalty_amount: string; measures: string }

export interface Workflow {
  status: Status
  assignee: string | null
  assignee_name: string | null
  due_at: string | null
  overdue: boolean
  entered_at: string
  version: number
  updated_by: string | null
  decision: Decision | null
  dismiss_reason: string | null
}

export interface AlertItem {
  alert_id: string
  detector: { id: string; version: string; params_hash: string }
  result: 'violation' | 'suspicious'
  severity: 'low' | 'medium' | 'high' | 'critical'
  stage: 'pre' | 'in' | 'post'
  subject: { fixmedins_code: string; psn_no?: string; doctor?: string; mdtrt_id?: string; setl_id?: string }
  refs: { mdtrt_ids: string[]; feedetl_sns: string[]; setl_ids: string[]; event_ids: string[] }
  amount_at_risk: string
  title: Text
  message: Text
  evidence: Record<string, unknown>
  basis: Text
  event_time: string
  detected_at: string
  admdvs: string
  institution_name: string | null
  workflow: Workflow
}

export interface Action {
  action_id: string
  alert_id: string
  version: number
  from: Status
  to: Status | null
  kind: 'transition' | 'assign'
  reason: string
  assignee: string | null
  decision: Decision | null
  by: string
  by_name: string
  role: string
  at: string
}

export interface Visit {
  mdtrt_id: string; psn_no: string; fixmedins_code: string; med_type: string; insutype: string; begntime: string
  insuplc_admdvs: string; ipt_otp_no: string; adm_dept_codg: string; atddr_no: string; gend: string; brdy: string; certno: string; psn_name: string
  diagnoses: { diag_code: string; diag_name: string; maindiag_flag: string }[]
}
export interface Discharge {
  mdtrt_id: string; psn_no: string; fixmedins_code: string; endtime: string; dscg_way: string; dscg_maindiag_code: string
  diagnoses: { diag_code: string; diag_name: string; maindiag_flag: string }[]
  operations: { oprn_oprt_code: string; oprn_oprt_date: string }[]
}
export interface FeeLine {
  mdtrt_id: string; psn_no: string; feedetl_sn: string; fixmedins_code: string; fee_ocur_time: string; med_list_codg: string
  medins_list_codg: string; list_type: string; med_chrgitm_type: string; cnt: string; pric: string; det_item_fee_sumamt: string
  bilg_dept_codg: string; bilg_dr_codg: string; prd_days: number | null; hours: string | null; reversed: boolean; flagged: boolean; item_name: string | null
}
export interface Settlement {
  setl_id: string; mdtrt_id: string; psn_no: string; fixmedins_code: string; setl_time: string; med_type: string; insutype: string
  medfee_sumamt: string; fulamt_ownpay_amt: string; inscp_scp_amt: string; hifp_pay: string; fund_pay_sumamt: string; acct_pay: string
  psn_cash_pay: string; pay_grp_type: string; pay_grp_code: string; pay_grp_weight: string | number; reversed: boolean
}

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

export interface Case {
  case_id: string
  title: string
  subject: { kind: 'institution' | 'doctor' | 'person'; fixmedins_code: string; doctor: string; psn_no: string }
  status: 'open' | 'closed'
  alert_ids: string[]
  fixmedins_codes: string[]
  admdvs: string[]
  assignee: string | null
  note: string
  created_by: string
  created_at: string
  updated_at: string
  version: number
  amount_at_risk: string
}

export interface TimelineEntry { at: string; kind: 'case' | 'alert'; alert_id: string | null; what: string; by_name: string; reason: string }

export interface CaseDetail {
  case: Case
  alerts: AlertItem[]
  timeline: TimelineEntry[]
  totals: { amount_at_risk: string; recovered_amount: string; penalty_amount: string; alerts: number; open_alerts: number }
}

export interface DetectorInfo {
  id: string
  version: string
  kind: 'stream' | 'audit'
  title: Text
  pattern: Text
  description: Text
  stages: string[]
  scenarios: string[]
  result: string
  severity: string
  basis: Text
  params_schema: { properties?: Record<string, { description?: string; default?: unknown; type?: string | string[] }> }
  params: Record<string, unknown>
  enabled: boolean
  stats: { alerts: number; open: number; confirmed: number; dismissed: number; precision: number | null; amount_at_risk: string }
}

export interface InstitutionRisk {
  fixmedins_code: string
  name: string | null
  admdvs: string
  alerts: number
  open_alerts: number
  open_amount_at_risk: string
  confirmed: number
  dismissed: number
  confirmed_rate: number | null
  overdue: number
}

export interface MeInfo { id: string; name: string; role: string; admdvs: string[]; fixmedins_codes: string[] }
