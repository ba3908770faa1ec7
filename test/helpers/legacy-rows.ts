// The typed rows of a stored event as the pipeline built them in JavaScript
// until migration 14 moved the work into ClickHouse views (src/store/rows.ts
// ingestLine, src/store/migrations.ts). Kept here only as the oracle the views
// are held to (test/store/ingest-views.test.ts), and to write history as a data
// dir made before migration 14 holds it (test/store/lookups.test.ts).
import type { AnyEvent } from '../../schemas/index.ts'
import { chrgBchno } from '../../src/state/apply.ts'
import { psnOf } from '../../src/store/rows.ts'
import { chTime } from '../../src/util/time.ts'

/** Typed rows by table, as the pipeline built them in JavaScript before migration 14. */
export interface EventRows {
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
}

export const EVENT_TABLES = ['events', 'visits', 'discharges', 'fee_lines', 'fee_reversals', 'settlements', 'settlement_reversals', 'visit_updates', 'visit_cancellations', 'inventory_movements'] as const satisfies readonly (keyof EventRows)[]

export function emptyEventRows(): EventRows {
  return { events: [], visits: [], discharges: [], fee_lines: [], fee_reversals: [], settlements: [], settlement_reversals: [], visit_updates: [], visit_cancellations: [], inventory_movements: [] }
}

const ts = (iso: string): string => chTime(Date.parse(iso))

/** Appends the rows one validated event produces: its raw form plus its typed rows. */
export function addEventRows(rows: EventRows, ev: AnyEvent, raw: string, sourcePos: string, ingestedAt: string): void {
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

function diag(d: { diag_code: string; diag_name: string; maindiag_flag: string }) {
  return { diag_code: d.diag_code, diag_name: d.diag_name, maindiag_flag: d.maindiag_flag }
}
