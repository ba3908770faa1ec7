// Builders for detector tests. Events go through the wire schema and then
// through applyEvent, exactly as the engine does, so a detector test exercises
// the same state a running processor would hold — not a hand-made imitation.
import type { z } from 'zod'
import {
  AnyEvent, CatalogItem, DiagnosisRow, Doctor, Institution, PayGroupRow, Person,
  type EventOf, type EventType, type Stage,
} from '../../schemas/index.ts'
import type { DetectContext, Finding, StreamDetector } from '../../src/detect/types.ts'
import { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import { applyEvent, newPerson } from '../../src/state/apply.ts'
import type { PersonState, VisitState } from '../../src/state/types.ts'

export const HOSPITAL = 'H11010500001'
export const HOSPITAL_2 = 'H11010500002'
export const PHARMACY = 'P11010500001'
export const PSN = 'PSN00000001'

type KbInput = {
  catalog?: z.input<typeof CatalogItem>[]
  institutions?: z.input<typeof Institution>[]
  doctors?: z.input<typeof Doctor>[]
  persons?: z.input<typeof Person>[]
  groups?: z.input<typeof PayGroupRow>[]
  diagnoses?: z.input<typeof DiagnosisRow>[]
}

/** A knowledge base from partial rows, parsed by the KB schemas so their defaults apply. */
export function makeKb(input: KbInput = {}): KnowledgeBase {
  return new KnowledgeBase({
    catalog: (input.catalog ?? []).map((r) => CatalogItem.parse(r)),
    institutions: (input.institutions ?? []).map((r) => Institution.parse(r)),
    doctors: (input.doctors ?? []).map((r) => Doctor.parse(r)),
    persons: (input.persons ?? []).map((r) => Person.parse(r)),
    groups: (input.groups ?? []).map((r) => PayGroupRow.parse(r)),
    diagnoses: (input.diagnoses ?? []).map((r) => DiagnosisRow.parse(r)),
  }, 'test')
}

/** A catalog row with the fields every item needs filled in. */
export function item(med_list_codg: string, over: Partial<z.input<typeof CatalogItem>> = {}): z.input<typeof CatalogItem> {
  return { med_list_codg, name: `项目${med_list_codg}`, list_type: 'service', med_chrgitm_type: '05', chrgitm_lv: '甲', ...over }
}

export function institution(fixmedins_code: string, over: Partial<z.input<typeof Institution>> = {}): z.input<typeof Institution> {
  return {
    fixmedins_code, name: `机构${fixmedins_code}`, kind: fixmedins_code.startsWith('P') ? 'pharmacy' : 'hospital',
    level: 3, type: '综合医院', admdvs: '110105', lat: 39.92, lon: 116.44, ...over,
  }
}

let seq = 0
/** A fresh id, unique within the test process. */
export function nextId(prefix: string): string {
  return `${prefix}${++seq}`
}

interface Envelope { event_id?: string; event_time?: string; fixmedins_code?: string }

function envelope<T extends EventType>(event_type: T, time: string, env: Envelope, payload: unknown): EventOf<T> {
  // Parsing proves the test event is one a producer could really send.
  return AnyEvent.parse({
    event_id: env.event_id ?? nextId('ev'),
    event_type,
    event_time: env.event_time ?? time,
    schema_version: 1,
    source: { fixmedins_code: env.fixmedins_code ?? HOSPITAL },
    payload,
  }) as EventOf<T>
}

type Diag = { diag_code: string; diag_name?: string; maindiag_flag?: '0' | '1' }
const diagnoses = (ds: Diag[]) => ds.map((d, i) => ({ diag_name: d.diag_code, maindiag_flag: i === 0 ? '1' : '0', ...d }))

export interface OpenArgs extends Envelope {
  mdtrt_id: string
  begntime: string
  psn_no?: string
  med_type?: string
  insutype?: string
  gend?: '0' | '1' | '2' | '9'
  brdy?: string
  atddr_no?: string
  adm_dept_codg?: string
  /** The first is the principal diagnosis unless maindiag_flag says otherwise. */
  diagnoses?: Diag[]
}

export function visitOpened(a: OpenArgs): EventOf<'visit.opened'> {
  return envelope('visit.opened', a.begntime, a, {
    mdtrt_id: a.mdtrt_id, psn_no: a.psn_no ?? PSN, med_type: a.med_type ?? '21', begntime: a.begntime,
    insutype: a.insutype ?? '310', insuplc_admdvs: '110105', ipt_otp_no: `IPT${a.mdtrt_id}`,
    adm_dept_codg: a.adm_dept_codg ?? 'D01', atddr_no: a.atddr_no ?? 'DR0001',
    psn: { gend: a.gend ?? '1', brdy: a.brdy ?? '1970-05-01' }, diagnoses: diagnoses(a.diagnoses ?? []),
  })
}

export interface LineArgs {
  feedetl_sn?: string
  fee_ocur_time: string
  med_list_codg: string
  list_type?: 'drug' | 'herb' | 'service' | 'consumable'
  med_chrgitm_type?: string
  /** Decimal strings as on the wire; det_item_fee_sumamt defaults to cnt × pric. */
  cnt?: string
  pric?: string
  det_item_fee_sumamt?: string
  bilg_dept_codg?: string
  bilg_dr_codg?: string
  prd_days?: number
  hours?: string
}

export function line(a: LineArgs): Record<string, unknown> {
  const cnt = a.cnt ?? '1'
  const pric = a.pric ?? '10.00'
  return {
    feedetl_sn: a.feedetl_sn ?? nextId('sn'), fee_ocur_time: a.fee_ocur_time, med_list_codg: a.med_list_codg,
    medins_list_codg: `M-${a.med_list_codg}`, list_type: a.list_type ?? 'service', med_chrgitm_type: a.med_chrgitm_type ?? '05',
    cnt, pric, det_item_fee_sumamt: a.det_item_fee_sumamt ?? (Number(cnt) * Number(pric)).toFixed(2),
    bilg_dept_codg: a.bilg_dept_codg ?? 'D01', bilg_dr_codg: a.bilg_dr_codg ?? 'DR0001',
    ...(a.prd_days === undefined ? {} : { prd_days: a.prd_days }),
    ...(a.hours === undefined ? {} : { hours: a.hours }),
  }
}

export function feeUploaded(a: Envelope & { mdtrt_id: string; psn_no?: string; lines: LineArgs[] }): EventOf<'fee.uploaded'> {
  const lines = a.lines.map(line)
  const last = a.lines.reduce((t, l) => (Date.parse(l.fee_ocur_time) > Date.parse(t) ? l.fee_ocur_time : t), a.lines[0]!.fee_ocur_time)
  return envelope('fee.uploaded', last, a, { mdtrt_id: a.mdtrt_id, psn_no: a.psn_no ?? PSN, lines })
}

export function feeReversed(a: Envelope & { mdtrt_id: string; psn_no?: string; feedetl_sns: string[]; time: string }): EventOf<'fee.reversed'> {
  return envelope('fee.reversed', a.time, a, { mdtrt_id: a.mdtrt_id, psn_no: a.psn_no ?? PSN, feedetl_sns: a.feedetl_sns })
}

export interface CloseArgs extends Envelope {
  mdtrt_id: string
  endtime: string
  psn_no?: string
  dscg_way?: '1' | '2' | '3' | '4' | '5' | '9'
  dscg_maindiag_code: string
  diagnoses?: Diag[]
  operations?: { oprn_oprt_code: string; oprn_oprt_date: string }[]
}

export function visitClosed(a: CloseArgs): EventOf<'visit.closed'> {
  return envelope('visit.closed', a.endtime, a, {
    mdtrt_id: a.mdtrt_id, psn_no: a.psn_no ?? PSN, endtime: a.endtime, dscg_way: a.dscg_way ?? '1',
    dscg_maindiag_code: a.dscg_maindiag_code,
    ...(a.diagnoses ? { diagnoses: diagnoses(a.diagnoses) } : {}),
    ...(a.operations ? { operations: a.operations } : {}),
  })
}

export interface SettleArgs extends Envelope {
  mdtrt_id: string
  setl_time: string
  setl_id?: string
  psn_no?: string
  med_type?: string
  medfee_sumamt?: string
  fund_pay_sumamt?: string
  /** 个人账户支付 (default 0.00). */
  acct_pay?: string
  hifp_pay?: string
  pay_grp?: { type: 'DRG' | 'DIP'; code: string; weight: string }
}

export function settlementCompleted(a: SettleArgs): EventOf<'settlement.completed'> {
  const fund = a.fund_pay_sumamt ?? '700.00'
  const total = a.medfee_sumamt ?? (Number(fund) + 300).toFixed(2)
  return envelope('settlement.completed', a.setl_time, a, {
    setl_id: a.setl_id ?? nextId('setl'), mdtrt_id: a.mdtrt_id, psn_no: a.psn_no ?? PSN, setl_time: a.setl_time,
    med_type: a.med_type ?? '21', insutype: '310', medfee_sumamt: total, fulamt_ownpay_amt: '0.00', inscp_scp_amt: total,
    hifp_pay: a.hifp_pay ?? fund, fund_pay_sumamt: fund, acct_pay: a.acct_pay ?? '0.00',
    psn_cash_pay: (Number(total) - Number(fund) - Number(a.acct_pay ?? 0)).toFixed(2),
    ...(a.pay_grp ? { pay_grp: a.pay_grp } : {}),
  })
}

export function settlementReversed(a: Envelope & { mdtrt_id: string; setl_id: string; time: string }): EventOf<'settlement.reversed'> {
  return envelope('settlement.reversed', a.time, a, { setl_id: a.setl_id, mdtrt_id: a.mdtrt_id, psn_no: PSN })
}

/**
 * One person's timeline as the engine sees it: each event is applied to the
 * person state first, then the detector runs when it reacts to the event type.
 */
export class Timeline<P extends z.ZodObject> {
  readonly person: PersonState
  readonly params: z.infer<P>

  constructor(
    readonly detector: StreamDetector<P>,
    readonly kb: KnowledgeBase = KnowledgeBase.empty(),
    params: Partial<z.input<P>> = {},
    psn_no = PSN,
    readonly stage: Stage = 'in',
  ) {
    this.person = newPerson(psn_no, 'test/0')
    this.params = detector.params.parse(params) as z.infer<P>
  }

  /** The context the engine would build for this event, after applying it. */
  apply(ev: AnyEvent): DetectContext {
    const eventTime = Date.parse(ev.event_time)
    const visit: VisitState | undefined = applyEvent(this.person, ev, eventTime)
    return { event: ev, stage: this.stage, kb: this.kb, person: this.person, visit, eventTime }
  }

  /** Applies the event and returns the detector's findings (none when it does not react to this type). */
  push(ev: AnyEvent): Finding[] {
    const ctx = this.apply(ev)
    if (!this.detector.reactsTo.includes(ev.event_type)) return []
    return this.detector.detect(ctx, this.params)
  }

  /** Applies every event in order; returns all findings, in order. */
  pushAll(events: AnyEvent[]): Finding[] {
    return events.flatMap((e) => this.push(e))
  }
}

/** The findings keyed by key, the later one winning — what the alert table keeps after dedup. */
export function latestByKey(findings: Finding[]): Map<string, Finding> {
  const m = new Map<string, Finding>()
  for (const f of findings) m.set(f.key, f)
  return m
}

/**
 * An outpatient visit on 2026-03-02 whose drug DRUG-A is billed twice for the
 * same time (lines `<m>-L1`, `<m>-L2`): a duplicate charge, the revision and
 * shadow tests' standard case.
 */
export function duplicateCharge(m: string, psn_no: string): [EventOf<'visit.opened'>, EventOf<'fee.uploaded'>] {
  const at = (h: number) => `2026-03-02T${String(h).padStart(2, '0')}:00:00+08:00`
  return [
    visitOpened({ event_id: `${m}-open`, mdtrt_id: m, psn_no, begntime: at(9), med_type: '11' }),
    feeUploaded({
      event_id: `${m}-fee`, mdtrt_id: m, psn_no,
      lines: [
        { feedetl_sn: `${m}-L1`, fee_ocur_time: at(10), med_list_codg: 'DRUG-A', list_type: 'drug', med_chrgitm_type: '09' },
        { feedetl_sn: `${m}-L2`, fee_ocur_time: at(10), med_list_codg: 'DRUG-A', list_type: 'drug', med_chrgitm_type: '09' },
      ],
    }),
  ]
}
