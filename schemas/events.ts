import { z } from 'zod'
import {
  Admdvs, Certno, DateOnly, DateTime, DeptCode, DiagCode, DoctorCode, FeedetlSn, FixmedinsCode, Gend, Insutype,
  ListCode, ListType, MdtrtId, MedChrgitmType, MedType, Money, OprnCode, Price, PsnNo, Quantity, SetlId,
} from './common.ts'

// Unknown extra fields are kept and stored with the raw event (CONTRACT.md), so
// every object here is loose: extras pass validation and are never a reason to reject.

export const Diagnosis = z.looseObject({
  diag_code: DiagCode,
  diag_name: z.string().min(1).max(200),
  maindiag_flag: z.enum(['0', '1']),
})

export const Psn = z.looseObject({
  gend: Gend,
  brdy: DateOnly,
  certno: Certno.optional(),
  psn_name: z.string().min(1).max(50).optional().describe('Name (sensitive)'),
})

export const VisitOpened = z.looseObject({
  mdtrt_id: MdtrtId,
  psn_no: PsnNo,
  med_type: MedType,
  begntime: DateTime,
  insutype: Insutype,
  insuplc_admdvs: Admdvs,
  ipt_otp_no: z.string().min(1).max(40),
  adm_dept_codg: DeptCode,
  atddr_no: DoctorCode,
  psn: Psn.optional().describe(
    'The person as the sender knows them. Contract producers send it; the national 2201/2401 carry no gender or birthday, '
    + 'so the national adapter derives them from an 18-digit resident ID number and leaves psn out when there is none '
    + '(detectors then use the knowledge base\'s persons, or skip the check)',
  ),
  diagnoses: z.array(Diagnosis).max(50),
})

/**
 * Changes to an open visit (CONTRACT.md 2026-12-06; the national 2203/2203A
 * outpatient visit upload and 2403 admission change). Every field given
 * replaces the visit's value; `diagnoses` replaces the visit's list (2203 and
 * 2403 send the visit's full set). `med_type` is here because the national
 * 2201 registration carries none: the visit's 医疗类别 arrives with 2203.
 */
export const VisitUpdated = z
  .looseObject({
    mdtrt_id: MdtrtId,
    psn_no: PsnNo,
    med_type: MedType.optional(),
    diagnoses: z.array(Diagnosis).max(50).optional(),
    adm_dept_codg: DeptCode.optional(),
    atddr_no: DoctorCode.optional(),
  })
  .refine((p) => p.med_type !== undefined || p.diagnoses !== undefined || p.adm_dept_codg !== undefined || p.atddr_no !== undefined, {
    message: 'visit.updated: at least one of med_type, diagnoses, adm_dept_codg, atddr_no', params: { reason: 'nothing_to_update' },
  })

/**
 * A registration, admission or discharge withdrawn (national 2202 门诊挂号撤销,
 * 2404 入院撤销, 2405 出院撤销). `visit`: the visit never happened — its lines
 * and settlements no longer count and the alerts resting on it are revisited;
 * `discharge`: the visit is open again (its discharge no longer counts).
 */
export const VisitCancelled = z.looseObject({
  mdtrt_id: MdtrtId,
  psn_no: PsnNo,
  cancels: z.enum(['visit', 'discharge']),
})

export const FeeLine = z.looseObject({
  feedetl_sn: FeedetlSn,
  fee_ocur_time: DateTime,
  med_list_codg: ListCode,
  medins_list_codg: z.string().min(1).max(50),
  list_type: ListType,
  med_chrgitm_type: MedChrgitmType,
  cnt: Quantity,
  pric: Price,
  det_item_fee_sumamt: Money,
  bilg_dept_codg: DeptCode,
  bilg_dr_codg: DoctorCode,
  prd_days: z.number().int().min(0).max(366).optional(),
  hours: Quantity.optional(),
})

export const FeeUploaded = z.looseObject({
  mdtrt_id: MdtrtId,
  psn_no: PsnNo,
  lines: z.array(FeeLine).min(1).max(5000),
})

/** A charge batch (收费批次号); "0000" stands for every line of the visit not yet settled (national 2205/2302). */
export const ChrgBchno = z.string().regex(/^[0-9A-Za-z_-]{1,30}$/, 'chrg_bchno: 1–30 letters, digits, _ or -')

const feeReversedFields = {
  mdtrt_id: MdtrtId,
  psn_no: PsnNo.describe('Required (CONTRACT.md 2026-12-06; the national 2205/2302 carry it). The earlier form without it is still taken from existing producers: decode fills it from the stored visit, or dead-letters the event as unresolved_person'),
  feedetl_sns: z.array(FeedetlSn).min(1).max(5000).optional().describe('The lines withdrawn'),
  chrg_bchno: ChrgBchno.optional().describe(
    'Instead of (or with) feedetl_sns: every line uploaded in this charge batch (the national 2205 withdraws by batch); '
    + '"0000" withdraws every line of the visit not yet settled. The pipeline resolves it to the lines from the visit\'s state and stores those',
  ),
}
const oneOfLinesOrBatch = [
  (p: { feedetl_sns?: string[]; chrg_bchno?: string }) => p.feedetl_sns !== undefined || p.chrg_bchno !== undefined,
  { message: 'fee.reversed: feedetl_sns or chrg_bchno', params: { reason: 'nothing_to_reverse' } },
] as const
export const FeeReversed = z.looseObject(feeReversedFields).refine(...oneOfLinesOrBatch)

export const Operation = z.looseObject({ oprn_oprt_code: OprnCode, oprn_oprt_date: DateOnly.or(DateTime) })

export const DSCG_WAYS = ['1', '2', '3', '4', '5', '9'] as const
export const VisitClosed = z.looseObject({
  mdtrt_id: MdtrtId,
  psn_no: PsnNo,
  endtime: DateTime,
  dscg_way: z.enum(DSCG_WAYS).describe('离院方式: 1 医嘱离院 2 医嘱转院 3 医嘱转社区 4 非医嘱离院 5 死亡 9 其他'),
  dscg_maindiag_code: DiagCode,
  diagnoses: z.array(Diagnosis).max(50).optional(),
  operations: z.array(Operation).max(50).optional(),
})

export const PayGroup = z.looseObject({
  type: z.enum(['DRG', 'DIP']),
  code: z.string().regex(/^[0-9A-Za-z._-]{1,30}$/),
  weight: z.string().regex(/^\d{1,4}(\.\d{1,4})?$/, 'weight: a decimal string'),
})

export const SettlementCompleted = z.looseObject({
  setl_id: SetlId,
  mdtrt_id: MdtrtId,
  psn_no: PsnNo,
  setl_time: DateTime,
  med_type: MedType,
  insutype: Insutype,
  medfee_sumamt: Money,
  fulamt_ownpay_amt: Money,
  inscp_scp_amt: Money,
  hifp_pay: Money,
  fund_pay_sumamt: Money,
  acct_pay: Money,
  psn_cash_pay: Money,
  hosp_part_amt: Money.optional().describe('医院负担金额: the share the institution bears'),
  pay_grp: PayGroup.optional(),
})

export const SettlementReversed = z.looseObject({
  setl_id: SetlId, mdtrt_id: MdtrtId,
  psn_no: PsnNo.describe('Required (CONTRACT.md 2026-12-06). The earlier form without it is still taken: see fee.reversed'),
})

export const InventoryMovement = z.looseObject({
  fixmedins_code: FixmedinsCode,
  med_list_codg: ListCode,
  kind: z.enum(['purchase', 'sale', 'return', 'stock_count', 'loss']),
  cnt: Quantity,
  movement_time: DateTime,
  batch_no: z.string().min(1).max(40).optional(),
  mdtrt_id: MdtrtId.optional(),
  setl_id: SetlId.optional(),
})

export const Source = z.looseObject({ fixmedins_code: FixmedinsCode, system: z.string().min(1).max(100).optional() })

const envelope = {
  event_id: z.string().min(1).max(64).regex(/^[\x21-\x7e]+$/, 'event_id: printable ASCII without spaces'),
  event_time: DateTime,
  schema_version: z.literal(1),
  source: Source,
}

/** One event type, one member of the union: event_type picks the payload schema. */
export const ClaimEvent = z.discriminatedUnion('event_type', [
  z.looseObject({ ...envelope, event_type: z.literal('visit.opened'), payload: VisitOpened }),
  z.looseObject({ ...envelope, event_type: z.literal('fee.uploaded'), payload: FeeUploaded }),
  z.looseObject({ ...envelope, event_type: z.literal('fee.reversed'), payload: FeeReversed }),
  z.looseObject({ ...envelope, event_type: z.literal('visit.closed'), payload: VisitClosed }),
  z.looseObject({ ...envelope, event_type: z.literal('settlement.completed'), payload: SettlementCompleted }),
  z.looseObject({ ...envelope, event_type: z.literal('settlement.reversed'), payload: SettlementReversed }),
  z.looseObject({ ...envelope, event_type: z.literal('visit.updated'), payload: VisitUpdated }),
  z.looseObject({ ...envelope, event_type: z.literal('visit.cancelled'), payload: VisitCancelled }),
])

export const InventoryEvent = z.looseObject({ ...envelope, event_type: z.literal('inventory.movement'), payload: InventoryMovement })

/**
 * The earlier form of the two reversals, without psn_no (CONTRACT.md before
 * 2026-12-06). Not part of the contract any more, so not in AnyEvent nor in the
 * published JSON Schemas: decode takes it from existing producers and marks
 * the person as unknown (psn_no ''), which the pipeline resolves from the
 * stored visit (src/pipeline/pipeline.ts) or refuses as unresolved_person.
 */
export const LegacyReversal = z.discriminatedUnion('event_type', [
  z.looseObject({ ...envelope, event_type: z.literal('fee.reversed'), payload: z.looseObject(feeReversedFields).omit({ psn_no: true }).refine(...oneOfLinesOrBatch) }),
  z.looseObject({ ...envelope, event_type: z.literal('settlement.reversed'), payload: SettlementReversed.omit({ psn_no: true }) }),
])

/** Everything that can arrive on the claims or inventory topic. */
export const AnyEvent = z.discriminatedUnion('event_type', [...ClaimEvent.options, InventoryEvent])

export const EVENT_TYPES = ['visit.opened', 'visit.updated', 'visit.cancelled', 'fee.uploaded', 'fee.reversed', 'visit.closed', 'settlement.completed', 'settlement.reversed', 'inventory.movement'] as const
export type EventType = (typeof EVENT_TYPES)[number]
export type AnyEvent = z.infer<typeof AnyEvent>
export type ClaimEvent = z.infer<typeof ClaimEvent>
export type InventoryEvent = z.infer<typeof InventoryEvent>
export type EventOf<T extends EventType> = Extract<AnyEvent, { event_type: T }>
export type FeeLine = z.infer<typeof FeeLine>
export type Diagnosis = z.infer<typeof Diagnosis>
