import { createHash } from 'node:crypto'
import type { Alert, AnyEvent } from '../../schemas/index.ts'
import { chrgBchno } from '../state/apply.ts'
import { money } from '../util/money.ts'
import { chTime } from '../util/time.ts'

/** Rows for one batch, by table. Built while the batch is processed, inserted by the sink. */
export interface BatchRows {
  events: object[]
  visits: object[]
  discharges: object[]
  fee_lines: object[]
  fee_reversals: object[]
  settlements: object[]
  settlement_reversals: object[]
  visit_updates: object[]
  visit_cancellations: object[]
  inventory_movements: object[]
  alerts: object[]
  dead_letters: object[]
  data_quality: object[]
  detector_errors: object[]
}

export const TABLES = ['events', 'visits', 'discharges', 'fee_lines', 'fee_reversals', 'settlements', 'settlement_reversals', 'visit_updates', 'visit_cancellations', 'inventory_movements', 'dead_letters', 'detector_errors', 'alerts', 'data_quality'] as const satisfies readonly (keyof BatchRows)[]

export function emptyRows(): BatchRows {
  return { events: [], visits: [], discharges: [], fee_lines: [], fee_reversals: [], settlements: [], settlement_reversals: [], visit_updates: [], visit_cancellations: [], inventory_movements: [], alerts: [], dead_letters: [], data_quality: [], detector_errors: [] }
}

const ts = (iso: string): string => chTime(Date.parse(iso))

/** The person an event is about, when it names one (claims are keyed by psn_no). */
export function psnOf(ev: AnyEvent): string {
  return ev.event_type === 'inventory.movement' ? '' : (ev.payload.psn_no ?? '')
}

/** Appends the rows one validated event produces: its raw form plus its typed rows. */
export function addEventRows(rows: BatchRows, ev: AnyEvent, raw: string, sourcePos: string, ingestedAt: string): void {
  const inst = ev.source.fixmedins_code
  const event_time = ts(ev.event_time)
  const psn_no = psnOf(ev)
  rows.events.push({
    event_id: ev.event_id, event_type: ev.event_type, event_time, fixmedins_code: inst, psn_no,
    mdtrt_id: 'mdtrt_id' in ev.payload ? (ev.payload.mdtrt_id ?? '') : '', source_pos: sourcePos, ingested_at: ingestedAt, raw,
  })
  const base = { event_id: ev.event_id, event_time }
  switch (ev.event_type) {
    case 'visit.opened': {
      const p = ev.payload
      rows.visits.push({
        mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, fixmedins_code: inst, med_type: p.med_type, insutype: p.insutype, begntime: ts(p.begntime),
        insuplc_admdvs: p.insuplc_admdvs, ipt_otp_no: p.ipt_otp_no, adm_dept_codg: p.adm_dept_codg, atddr_no: p.atddr_no,
        gend: p.psn?.gend ?? '9', brdy: p.psn?.brdy ?? '', certno: p.psn?.certno ?? '', psn_name: p.psn?.psn_name ?? '',
        diagnoses: p.diagnoses.map(diag), ...base,
      })
      break
    }
    case 'visit.closed': {
      const p = ev.payload
      rows.discharges.push({
        mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, fixmedins_code: inst, endtime: ts(p.endtime), dscg_way: p.dscg_way,
        dscg_maindiag_code: p.dscg_maindiag_code, diagnoses: (p.diagnoses ?? []).map(diag),
        operations: (p.operations ?? []).map((o) => ({ oprn_oprt_code: o.oprn_oprt_code, oprn_oprt_date: o.oprn_oprt_date })), ...base,
      })
      break
    }
    case 'fee.uploaded': {
      const p = ev.payload
      for (const l of p.lines) {
        rows.fee_lines.push({
          psn_no: p.psn_no, mdtrt_id: p.mdtrt_id, feedetl_sn: l.feedetl_sn, fixmedins_code: inst, fee_ocur_time: ts(l.fee_ocur_time),
          med_list_codg: l.med_list_codg, medins_list_codg: l.medins_list_codg, list_type: l.list_type, med_chrgitm_type: l.med_chrgitm_type,
          cnt: l.cnt, pric: l.pric, det_item_fee_sumamt: l.det_item_fee_sumamt, bilg_dept_codg: l.bilg_dept_codg, bilg_dr_codg: l.bilg_dr_codg,
          prd_days: l.prd_days ?? null, hours: l.hours ?? null, chrg_bchno: chrgBchno(l) ?? '', ...base,
        })
      }
      break
    }
    case 'fee.reversed':
      for (const sn of ev.payload.feedetl_sns ?? []) rows.fee_reversals.push({ psn_no, mdtrt_id: ev.payload.mdtrt_id, feedetl_sn: sn, fixmedins_code: inst, ...base })
      break
    case 'settlement.completed': {
      const p = ev.payload
      rows.settlements.push({
        setl_id: p.setl_id, mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, fixmedins_code: inst, setl_time: ts(p.setl_time), med_type: p.med_type,
        insutype: p.insutype, medfee_sumamt: p.medfee_sumamt, fulamt_ownpay_amt: p.fulamt_ownpay_amt, inscp_scp_amt: p.inscp_scp_amt,
        hifp_pay: p.hifp_pay, fund_pay_sumamt: p.fund_pay_sumamt, acct_pay: p.acct_pay, psn_cash_pay: p.psn_cash_pay, hosp_part_amt: p.hosp_part_amt ?? '0',
        pay_grp_type: p.pay_grp?.type ?? '', pay_grp_code: p.pay_grp?.code ?? '', pay_grp_weight: p.pay_grp?.weight ?? '0', ...base,
      })
      break
    }
    case 'visit.updated': {
      // What was not given stays '' (the codes cannot be empty) or has_diagnoses 0: the loader applies only what was given.
      const p = ev.payload
      rows.visit_updates.push({
        psn_no, mdtrt_id: p.mdtrt_id, fixmedins_code: inst, med_type: p.med_type ?? '', adm_dept_codg: p.adm_dept_codg ?? '', atddr_no: p.atddr_no ?? '',
        has_diagnoses: p.diagnoses === undefined ? 0 : 1, diagnoses: (p.diagnoses ?? []).map(diag), ...base,
      })
      break
    }
    case 'visit.cancelled':
      rows.visit_cancellations.push({ psn_no, mdtrt_id: ev.payload.mdtrt_id, fixmedins_code: inst, cancels: ev.payload.cancels, ...base })
      break
    case 'settlement.reversed':
      rows.settlement_reversals.push({ psn_no, setl_id: ev.payload.setl_id, mdtrt_id: ev.payload.mdtrt_id, fixmedins_code: inst, ...base })
      break
    case 'inventory.movement': {
      const p = ev.payload
      rows.inventory_movements.push({
        fixmedins_code: p.fixmedins_code, med_list_codg: p.med_list_codg, kind: p.kind, cnt: p.cnt, movement_time: ts(p.movement_time),
        batch_no: p.batch_no ?? '', mdtrt_id: p.mdtrt_id ?? '', setl_id: p.setl_id ?? '', event_id: ev.event_id,
      })
      break
    }
  }
}

/**
 * A data-quality flag on a stored event (src/pipeline/admit.ts). Its id is
 * deterministic from the reason and the event, so a replay rewrites the row.
 */
export function dataQualityRow(ev: AnyEvent, flag: { reason: string; detail: string; refs: readonly string[] }, detectedAt: string): object {
  return {
    dq_id: createHash('sha256').update(`${flag.reason}\0${ev.event_id}`).digest('hex').slice(0, 32),
    reason: flag.reason, detail: flag.detail, event_id: ev.event_id, event_type: ev.event_type, fixmedins_code: ev.source.fixmedins_code,
    psn_no: psnOf(ev), mdtrt_id: 'mdtrt_id' in ev.payload ? (ev.payload.mdtrt_id ?? '') : '', refs: [...flag.refs],
    event_time: ts(ev.event_time), detected_at: detectedAt,
  }
}

function diag(d: { diag_code: string; diag_name: string; maindiag_flag: string }) {
  return { diag_code: d.diag_code, diag_name: d.diag_name, maindiag_flag: d.maindiag_flag }
}

export function alertRow(a: Alert, admdvs: string): object {
  return {
    alert_id: a.alert_id, detector_id: a.detector.id, detector_version: a.detector.version, params_hash: a.detector.params_hash,
    result: a.result, severity: a.severity, stage: a.stage, fixmedins_code: a.subject.fixmedins_code, admdvs,
    psn_no: a.subject.psn_no ?? '', doctor: a.subject.doctor ?? '', mdtrt_id: a.subject.mdtrt_id ?? '', setl_id: a.subject.setl_id ?? '',
    mdtrt_ids: a.refs.mdtrt_ids, feedetl_sns: a.refs.feedetl_sns, setl_ids: a.refs.setl_ids, event_ids: a.refs.event_ids,
    amount_at_risk: a.amount_at_risk, title_zh: a.title.zh, title_en: a.title.en, message_zh: a.message.zh, message_en: a.message.en,
    evidence: JSON.stringify(a.evidence), basis_zh: a.basis.zh, basis_en: a.basis.en, event_time: ts(a.event_time), detected_at: ts(a.detected_at),
    revision: a.revision, status: a.status, withdrawn_reason: a.withdrawn_reason ?? '', revised_at: ts(a.revised_at), revision_event_id: a.revision_event_id ?? '',
  }
}

/** Reads a stored alert row back into the alert document (the same one the alerts topic carries). */
export function alertFromRow(r: Record<string, unknown>): Alert {
  const iso = (v: unknown) => new Date(String(v).replace(' ', 'T') + 'Z').toISOString()
  return {
    alert_id: String(r.alert_id), schema_version: 1,
    detector: { id: String(r.detector_id), version: String(r.detector_version), params_hash: String(r.params_hash) },
    result: r.result as Alert['result'], severity: r.severity as Alert['severity'], stage: r.stage as Alert['stage'],
    subject: {
      fixmedins_code: String(r.fixmedins_code),
      ...(r.psn_no ? { psn_no: String(r.psn_no) } : {}), ...(r.doctor ? { doctor: String(r.doctor) } : {}),
      ...(r.mdtrt_id ? { mdtrt_id: String(r.mdtrt_id) } : {}), ...(r.setl_id ? { setl_id: String(r.setl_id) } : {}),
    },
    refs: { mdtrt_ids: r.mdtrt_ids as string[], feedetl_sns: r.feedetl_sns as string[], setl_ids: r.setl_ids as string[], event_ids: r.event_ids as string[] },
    amount_at_risk: money(String(r.amount_at_risk)),
    title: { zh: String(r.title_zh), en: String(r.title_en) }, message: { zh: String(r.message_zh), en: String(r.message_en) },
    evidence: JSON.parse(String(r.evidence)) as Record<string, unknown>, basis: { zh: String(r.basis_zh), en: String(r.basis_en) },
    event_time: iso(r.event_time), detected_at: iso(r.detected_at),
    // Rows written before alerts had revisions (migration 7 gives them these defaults).
    revision: Number(r.revision ?? 1), status: (r.status ?? 'active') as Alert['status'],
    ...(r.withdrawn_reason ? { withdrawn_reason: r.withdrawn_reason as Alert['withdrawn_reason'] } : {}),
    revised_at: iso(r.revised_at ?? r.detected_at),
    ...(r.revision_event_id ? { revision_event_id: String(r.revision_event_id) } : {}),
  }
}
