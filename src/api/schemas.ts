import { z } from 'zod'
import { Alert, Result, Severity, Stage, Text } from '../../schemas/index.ts'
import { MoneySum } from '../../schemas/common.ts'
import { MaskedBirthday, MaskedCertno, MaskedName, MaskedRecord, maskRawRecord, maskText } from '../auth/mask.ts'
import { PURPOSE_MAX_LENGTH, PURPOSE_MIN_CHARS, cleanPurpose, statedPurpose } from '../auth/purpose.ts'
import { ROLES, Role } from '../auth/principal.ts'
import { ACCESS_OBJECTS } from '../evidence/access-log.ts'
import { Decision } from '../review/service.ts'
import { STATUSES, Status } from '../review/workflow.ts'

/**
 * Response schemas. Besides documenting the API (OpenAPI at /docs), they are
 * the gate personal data passes through: objects strip keys they do not name,
 * and the sensitive fields are codecs that mask any plain value (see auth/mask.ts).
 */
export const ErrorBody = z.object({ error: z.string(), message: z.string() })
export const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody, 429: ErrorBody }

const Money = MoneySum
const Time = z.string().describe('RFC 3339, UTC')

export const Workflow = z.object({
  status: Status,
  assignee: z.string().nullable(),
  assignee_name: z.string().nullable(),
  due_at: Time.nullable(),
  overdue: z.boolean(),
  entered_at: Time,
  version: z.number().int().min(0).describe('Send it back with a change; 0 = never touched'),
  updated_by: z.string().nullable(),
  decision: Decision.nullable(),
  dismiss_reason: z.string().nullable(),
})

export const AlertItem = Alert.extend({
  evidence: MaskedRecord,
  admdvs: z.string(),
  institution_name: z.string().nullable(),
  workflow: Workflow,
})

/**
 * A stored alert that does not fit the response schema (it should never happen:
 * the store, the alert document and this schema bound the same fields) is
 * logged with its id and answered in this form, so one bad row never fails a
 * page for everyone in its scope.
 */
export const DegradedAlert = z.object({
  alert_id: z.string(),
  degraded: z.literal(true),
  problem: z.string().describe('Which fields could not be shown; the server log has the alert id'),
})
/** An alert in a list or on its page: whole, or degraded. */
export const AlertOrDegraded = z.union([AlertItem, DegradedAlert])

export const Action = z.object({
  action_id: z.string(),
  alert_id: z.string(),
  version: z.number().int(),
  kind: z.enum(['transition', 'assign']),
  from: Status,
  to: Status.nullable(),
  reason: z.string(),
  assignee: z.string().nullable(),
  decision: Decision.nullable(),
  by: z.string(),
  by_name: z.string(),
  role: z.string(),
  at: Time,
})

const Diagnosis = z.object({ diag_code: z.string(), diag_name: z.string(), maindiag_flag: z.string() })

export const Visit = z.object({
  mdtrt_id: z.string(), psn_no: z.string(), fixmedins_code: z.string(), med_type: z.string(), insutype: z.string(), begntime: Time,
  insuplc_admdvs: z.string(), ipt_otp_no: z.string(), adm_dept_codg: z.string(), atddr_no: z.string(), gend: z.string(),
  brdy: MaskedBirthday, certno: MaskedCertno, psn_name: MaskedName, diagnoses: z.array(Diagnosis),
  cancelled_at: Time.nullable().describe('When the visit was cancelled whole (national 2202/2404): none of its facts count any more; null when it stands'),
})
export const Discharge = z.object({
  mdtrt_id: z.string(), psn_no: z.string(), fixmedins_code: z.string(), endtime: Time, dscg_way: z.string(), dscg_maindiag_code: z.string(),
  diagnoses: z.array(Diagnosis), operations: z.array(z.object({ oprn_oprt_code: z.string(), oprn_oprt_date: z.string() })),
  cancelled_at: Time.nullable().describe('When this discharge was withdrawn (national 2405): the stay was open again from then; null when it stands'),
})
export const FeeLine = z.object({
  mdtrt_id: z.string(), psn_no: z.string(), feedetl_sn: z.string(), fixmedins_code: z.string(), fee_ocur_time: Time,
  med_list_codg: z.string(), medins_list_codg: z.string(), list_type: z.string(), med_chrgitm_type: z.string(),
  cnt: z.string(), pric: z.string(), det_item_fee_sumamt: z.string(), bilg_dept_codg: z.string(), bilg_dr_codg: z.string(),
  prd_days: z.number().nullable(), hours: z.string().nullable(), reversed: z.boolean(), flagged: z.boolean().describe('Named in an alert\'s refs'),
  item_name: z.string().nullable(),
})
export const Settlement = z.object({
  setl_id: z.string(), mdtrt_id: z.string(), psn_no: z.string(), fixmedins_code: z.string(), setl_time: Time, med_type: z.string(), insutype: z.string(),
  medfee_sumamt: z.string(), fulamt_ownpay_amt: z.string(), inscp_scp_amt: z.string(), hifp_pay: z.string(), fund_pay_sumamt: z.string(),
  acct_pay: z.string(), psn_cash_pay: z.string(), pay_grp_type: z.string(), pay_grp_code: z.string(), pay_grp_weight: z.string(), reversed: z.boolean(),
})
export const Claims = {
  visits: z.array(Visit),
  discharges: z.array(Discharge),
  fee_lines: z.array(FeeLine),
  settlements: z.array(Settlement),
}

export const CaseSubject = z.object({
  kind: z.enum(['institution', 'doctor', 'person']),
  fixmedins_code: z.string(),
  doctor: z.string(),
  psn_no: z.string(),
})
export const Case = z.object({
  case_id: z.string(),
  title: z.string(),
  subject: CaseSubject,
  status: z.enum(['open', 'closed']),
  alert_ids: z.array(z.string()),
  fixmedins_codes: z.array(z.string()),
  admdvs: z.array(z.string()),
  assignee: z.string().nullable(),
  note: z.string(),
  created_by: z.string(),
  created_at: Time,
  updated_at: Time,
  version: z.number().int(),
  amount_at_risk: Money,
})
export const TimelineEntry = z.object({
  at: Time,
  kind: z.enum(['case', 'alert']),
  alert_id: z.string().nullable(),
  what: z.string(),
  by_name: z.string(),
  reason: z.string(),
})

export const DetectorInfo = z.object({
  id: z.string(), version: z.string(), kind: z.enum(['stream', 'audit']), title: Text, pattern: Text, description: Text,
  rule_id: z.string().describe('National-style rule id (规则ID) of the 3101/3102 answer, stable: docs/national-analysis.md'),
  rule_name: z.string().describe('规则名称 of the 3101/3102 answer (the pattern\'s Chinese name)'),
  stages: z.array(Stage), scenarios: z.array(z.string()), result: Result, severity: Severity, basis: Text,
  params_schema: z.record(z.string(), z.unknown()).describe('JSON Schema of the parameters (from the detector\'s zod schema)'),
  params: z.record(z.string(), z.unknown()).describe('Effective parameters from the rule base'),
  evidence_labels: z.record(z.string(), Text.extend({ values: z.record(z.string(), Text).optional(), keyed: z.boolean().optional() }))
    .describe('zh/en names of the evidence keys its alerts can carry (and of their enumerated values), the engine\'s own keys included; `<list>_omitted` counts take the list\'s name'),
  enabled: z.boolean().describe('The detector runs (mode on or shadow)'),
  mode: z.enum(['on', 'shadow', 'off']).describe('on: live; shadow: runs, its alerts kept out of the feed, the alerts topic and the pre-check (docs/review.md "Shadow rules"); off'),
  stats: z.object({
    alerts: z.number().int(), open: z.number().int(), confirmed: z.number().int(), dismissed: z.number().int(),
    precision: z.number().nullable().describe('confirmed / (confirmed + dismissed); null before any verdict'),
    amount_at_risk: Money,
    answered: z.number().int().describe('Warnings (pre-check findings or alerts) the institutions answered with a 3103, each once by its latest answer'),
    returned: z.number().int().describe('Of those, answered 2 返回修改 (sent back to be changed)'),
    returned_rate: z.number().nullable().describe('returned / answered: the "returned for correction" rate; null before any answer'),
    shadow: z.object({ alerts: z.number().int(), amount_at_risk: Money })
      .describe('Standing alerts the detector raised while in shadow mode ("would have raised N alerts"), in your scope; never in the counts above'),
  }),
})

export const InstitutionRisk = z.object({
  fixmedins_code: z.string(), name: z.string().nullable(), admdvs: z.string(), alerts: z.number().int(), open_alerts: z.number().int(),
  open_amount_at_risk: Money, confirmed: z.number().int(), dismissed: z.number().int(), confirmed_rate: z.number().nullable(), overdue: z.number().int(),
})

export const UserOut = z.object({
  id: z.string(), name: z.string(), role: Role, admdvs: z.array(z.string()), fixmedins_codes: z.array(z.string()),
  created_at: Time, created_by: z.string(), revoked_at: Time.nullable(),
})

export const AccessEntry = z.object({
  access_id: z.string(), at: Time, user_id: z.string(), user_name: z.string(), role: z.string(),
  action: z.enum(['view', 'export']), object_type: z.enum(ACCESS_OBJECTS), object_id: z.string(), purpose: z.string(), revealed: z.boolean(),
})

/** Comma-separated list in a query string. */
export const csv = <T extends z.ZodType<string, string>>(item: T) => z.string().max(2000).transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)).pipe(z.array(item).max(100))

export const Purpose = z.string().max(1000).transform(cleanPurpose)
  .refine((s) => statedPurpose(s) !== '', `a purpose states why in at least ${PURPOSE_MIN_CHARS} letters or digits`)
  .transform((s) => s.slice(0, PURPOSE_MAX_LENGTH))
  .describe(`Why the evidence is viewed or exported (written to the access log): ${PURPOSE_MIN_CHARS}–${PURPOSE_MAX_LENGTH} characters, invisible ones removed`)
export const AlertId = z.string().regex(/^[0-9a-f]{32}$/)
export const CaseId = z.string().regex(/^C\d{8}-[0-9a-f]{8}$/)

/** GET /me: the caller. */
export const Me = z.object({ id: z.string(), name: z.string(), role: z.enum(ROLES), admdvs: z.array(z.string()), fixmedins_codes: z.array(z.string()) })

/** GET /workflow: the steps, their deadlines and the allowed transitions. */
export const WorkflowInfo = z.object({
  statuses: z.array(z.object({ status: z.enum(STATUSES), zh: z.string(), en: z.string(), days: z.number().int().nullable(), open: z.boolean() })),
  transitions: z.array(z.object({ from: z.enum(STATUSES), to: z.enum(STATUSES), roles: z.array(z.enum(ROLES)), reason_required: z.boolean(), decision_required: z.boolean() })),
  holidays: z.array(z.string()), workdays: z.array(z.string()),
})

/**
 * An institution's 3103 answer to a warning (docs/national-feedback.md). The
 * operator's name is masked like any name; the reason is the institution's
 * free text, with any 18-digit ID number in it masked.
 */
export const Feedback = z.object({
  feedback_id: z.string(),
  alert_id: z.string().describe('The warning answered (warn_rslt_id = jr_id = alert_id)'),
  fixmedins_code: z.string().describe('The institution that answered'),
  institution_name: z.string().nullable(),
  detector_id: z.string(),
  against: z.enum(['alert', 'finding']).describe('alert: the 事中 alert existed when the answer came; finding: it answered the pre-check finding before the alert was stored'),
  warn_type: z.enum(['1', '2']).describe('反馈类型: 1 事前 (3101), 2 事中 (3102)'),
  dspo_way: z.enum(['1', '2']).describe('处理方式: 1 继续执行, 2 返回修改'),
  dspo_way_rea: z.codec(z.string(), z.string(), { decode: (s) => s, encode: maskText }).describe('处理原因, as the institution wrote it (ID numbers masked)'),
  msgid: z.string().describe('The 3103 message that carried it'),
  opter_type: z.string(),
  opter: z.string().describe('经办人: operator or terminal code'),
  opter_name: MaskedName,
  inf_time: Time.describe('When the institution sent it'),
  received_at: Time,
})

/** GET /alerts/:id: the alert, its record, the institution's answers to it (3103) and the claims behind it. */
export const AlertDetail = z.object({ alert: AlertOrDegraded, history: z.array(Action), feedback: z.array(Feedback), ...Claims, revealed: z.boolean() })

export const CaseTotals = z.object({ alerts: z.number().int(), open_alerts: z.number().int(), amount_at_risk: Money, recovered_amount: Money, penalty_amount: Money })

/** GET /cases/:id: the case, its alerts, timeline and totals. */
export const CaseDetail = z.object({ case: Case, alerts: z.array(AlertOrDegraded), timeline: z.array(TimelineEntry), totals: CaseTotals })

/**
 * Text from a refused record (its raw bytes, its validation messages) on the
 * way out: the dead-letter routes are the admin's, and admin is not the
 * inspector role, so personal data in it is always masked — JSON-aware where
 * the text parses, by pattern where it does not (auth/mask.ts maskRawRecord).
 */
const MaskedRawText = z.codec(z.string(), z.string(), { decode: (s) => s, encode: maskRawRecord })
  .describe('The record as it arrived, personal data masked: re-serialised JSON where it parses (certno, psn_name, brdy masked at any depth), else the text with those keys\' values and every 18-digit ID number masked')
const MaskedMessage = z.codec(z.string(), z.string(), { decode: (s) => s, encode: maskText })

export const DeadLetterReason = z.string().max(200).regex(/^[\w.@*-]+$/)
export const DlqId = z.string().regex(/^[0-9a-f]{32}$/)

export const DeadLetterSummary = z.object({
  dlq_id: DlqId,
  reason: z.string().describe('Machine-readable: the first validation problem, e.g. schema.invalid_type@payload.psn_no'),
  source: z.string().describe('Where the record sat: topic/partition/offset, file:line, or resubmit:<dlq_id>'),
  received_at: z.string().describe('When the pipeline refused it, RFC 3339 China time'),
  fixmedins_code: z.string().nullable().describe('The institution the envelope names; null when the record does not parse that far'),
  bytes: z.number().int().describe('Size of the raw record'),
})

export const DeadLetterDetail = DeadLetterSummary.extend({
  detail: MaskedMessage.describe('Every validation problem, one a line (at most ten, then "… and n more"); ID numbers masked'),
  raw_text: MaskedRawText,
  raw_utf8: z.boolean().describe('false: the bytes were not valid UTF-8 and raw_text shows them with U+FFFD for what does not decode'),
})

export const DeadLetterCount = z.object({ day: z.string().describe('China day, YYYY-MM-DD'), reason: z.string(), count: z.number().int() })
