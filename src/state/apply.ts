import type { AnyEvent, FeeLine } from '../../schemas/index.ts'
import type { FeeLineState, PersonState, VisitState } from './types.ts'

/**
 * Applies one validated claim event to a person's state. Idempotent: every
 * change is keyed (mdtrt_id, feedetl_sn, setl_id), so a redelivered event
 * leaves the state as it was — the processor relies on this after a crash,
 * when state reloaded from ClickHouse already holds part of a replayed batch.
 */
export function applyEvent(person: PersonState, ev: AnyEvent, eventTime: number): VisitState | undefined {
  if (eventTime > person.last_event_time) person.last_event_time = eventTime
  switch (ev.event_type) {
    case 'visit.opened': {
      const p = ev.payload
      const v = visitOf(person, p.mdtrt_id, ev.source.fixmedins_code)
      v.opened = true
      v.med_type = p.med_type
      v.insutype = p.insutype
      v.begntime = Date.parse(p.begntime)
      v.atddr_no = p.atddr_no
      v.adm_dept_codg = p.adm_dept_codg
      if (v.diagnoses.length === 0 || !v.close_event_id) v.diagnoses = p.diagnoses
      v.open_event_id = ev.event_id
      if (p.psn) {
        person.gend = p.psn.gend
        person.brdy = p.psn.brdy
      }
      return v
    }
    case 'fee.uploaded': {
      const v = visitOf(person, ev.payload.mdtrt_id, ev.source.fixmedins_code)
      for (const l of ev.payload.lines) {
        const prev = v.lines.get(l.feedetl_sn)
        v.lines.set(l.feedetl_sn, lineState(l, v.mdtrt_id, ev.event_id, prev?.reversed ?? false))
      }
      return v
    }
    case 'fee.reversed': {
      // A reversal withdraws; it never creates a visit (nor claims one for its
      // sender): one of an unknown visit is stored and flagged (src/pipeline/admit.ts).
      const v = person.visits.get(ev.payload.mdtrt_id)
      if (!v) return undefined
      for (const sn of ev.payload.feedetl_sns ?? []) {
        const line = v.lines.get(sn)
        if (line) line.reversed = true
      }
      return v
    }
    case 'visit.closed': {
      const p = ev.payload
      const v = visitOf(person, p.mdtrt_id, ev.source.fixmedins_code)
      v.endtime = Date.parse(p.endtime)
      v.dscg_way = p.dscg_way
      v.dscg_maindiag_code = p.dscg_maindiag_code
      if (p.diagnoses?.length) v.diagnoses = p.diagnoses
      v.operations = (p.operations ?? []).map((o) => ({ oprn_oprt_code: o.oprn_oprt_code, oprn_oprt_date: o.oprn_oprt_date }))
      v.close_event_id = ev.event_id
      return v
    }
    case 'settlement.completed': {
      const p = ev.payload
      const v = visitOf(person, p.mdtrt_id, ev.source.fixmedins_code)
      if (!v.opened) v.med_type = p.med_type
      v.settlements.set(p.setl_id, {
        setl_id: p.setl_id,
        mdtrt_id: p.mdtrt_id,
        event_id: ev.event_id,
        setl_time: Date.parse(p.setl_time),
        med_type: p.med_type,
        medfee_sumamt: Number(p.medfee_sumamt),
        hifp_pay: Number(p.hifp_pay),
        fund_pay_sumamt: Number(p.fund_pay_sumamt),
        acct_pay: Number(p.acct_pay),
        inscp_scp_amt: Number(p.inscp_scp_amt),
        pay_grp: p.pay_grp ? { type: p.pay_grp.type, code: p.pay_grp.code, weight: Number(p.pay_grp.weight) } : undefined,
        reversed: v.settlements.get(p.setl_id)?.reversed ?? false,
      })
      return v
    }
    case 'settlement.reversed': {
      const v = person.visits.get(ev.payload.mdtrt_id)
      if (!v) return undefined
      const s = v.settlements.get(ev.payload.setl_id)
      if (s) s.reversed = true
      return v
    }
    case 'inventory.movement':
      return undefined
  }
}

export function newPerson(psn_no: string, owner: string): PersonState {
  return { psn_no, visits: new Map(), owner, last_event_time: 0, alerts: new Map() }
}

/** The visit, created empty when the visit's first event is not visit.opened (lines can arrive first). */
export function visitOf(person: PersonState, mdtrt_id: string, fixmedins_code: string): VisitState {
  let v = person.visits.get(mdtrt_id)
  if (!v) {
    v = {
      mdtrt_id, psn_no: person.psn_no, fixmedins_code, opened: false, med_type: '', insutype: '', begntime: 0,
      atddr_no: '', adm_dept_codg: '', diagnoses: [], operations: [], lines: new Map(), settlements: new Map(),
    }
    person.visits.set(mdtrt_id, v)
  }
  return v
}

export function lineState(l: FeeLine, mdtrt_id: string, event_id: string, reversed: boolean): FeeLineState {
  return {
    feedetl_sn: l.feedetl_sn,
    mdtrt_id,
    event_id,
    fee_ocur_time: Date.parse(l.fee_ocur_time),
    med_list_codg: l.med_list_codg,
    medins_list_codg: l.medins_list_codg,
    list_type: l.list_type,
    med_chrgitm_type: l.med_chrgitm_type,
    cnt: Number(l.cnt),
    pric: Number(l.pric),
    amount: Number(l.det_item_fee_sumamt),
    bilg_dept_codg: l.bilg_dept_codg,
    bilg_dr_codg: l.bilg_dr_codg,
    prd_days: l.prd_days,
    hours: l.hours === undefined ? undefined : Number(l.hours),
    reversed,
  }
}

/**
 * Drops visits that ended before the window; keeps state bounded. An inpatient
 * stay still open is kept up to a year (long stays are what bed-holding and
 * phantom-service look at); other visits without a close (outpatient visits
 * are rarely closed) count from their start.
 */
export function prune(person: PersonState, windowDays: number): void {
  const horizon = person.last_event_time - windowDays * 86_400_000
  for (const [id, v] of person.visits) {
    if (v.begntime === 0) continue
    const openStay = v.endtime === undefined && v.med_type.startsWith('2')
    const end = v.endtime ?? (openStay ? v.begntime + 365 * 86_400_000 : v.begntime)
    if (end < horizon) person.visits.delete(id)
  }
  // An alert can be revised only through a visit it rests on: once none is held, it is left as it stands.
  for (const [id, a] of person.alerts) if (!a.refs.mdtrt_ids.some((m) => person.visits.has(m))) person.alerts.delete(id)
}
