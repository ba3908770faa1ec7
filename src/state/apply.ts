import type { Alert, AnyEvent, Diagnosis, FeeLine } from '../../schemas/index.ts'
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
      v.med_type = intern(p.med_type)
      v.insutype = intern(p.insutype)
      v.begntime = Date.parse(p.begntime)
      v.atddr_no = intern(p.atddr_no)
      v.adm_dept_codg = intern(p.adm_dept_codg)
      if (v.diagnoses.length === 0 || !v.close_event_id) v.diagnoses = diagnosesState(p.diagnoses)
      v.open_event_id = ev.event_id
      if (p.psn) {
        person.gend = p.psn.gend
        person.brdy = p.psn.brdy
      }
      return v
    }
    case 'fee.uploaded': {
      const v = visitOf(person, ev.payload.mdtrt_id, ev.source.fixmedins_code)
      let batch: string | undefined
      for (const l of ev.payload.lines) {
        const prev = v.lines.get(l.feedetl_sn)
        const line = lineState(l, v.mdtrt_id, ev.event_id, prev?.reversed ?? false)
        // The lines of one upload mostly name one charge batch: held once, not once a line.
        if (line.chrg_bchno === batch) line.chrg_bchno = batch
        else if (line.chrg_bchno !== undefined) batch = line.chrg_bchno
        v.lines.set(l.feedetl_sn, line)
      }
      return v
    }
    case 'fee.reversed': {
      // A reversal withdraws; it never creates a visit (nor claims one for its
      // sender): one of an unknown visit is stored and flagged (src/pipeline/admit.ts).
      // One by charge batch was resolved into feedetl_sns before it got here
      // (src/pipeline/pipeline.ts, linesOfBatch).
      const v = heldVisit(person, ev.payload.mdtrt_id)
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
      v.dscg_way = intern(p.dscg_way)
      v.dscg_maindiag_code = intern(p.dscg_maindiag_code)
      if (p.diagnoses?.length) v.diagnoses = diagnosesState(p.diagnoses)
      v.operations = operationsState(p.operations ?? [])
      v.close_event_id = ev.event_id
      return v
    }
    case 'visit.updated': {
      // Like a reversal, a change never creates a visit: one of an unknown visit is stored and flagged.
      const v = heldVisit(person, ev.payload.mdtrt_id)
      if (!v) return undefined
      updateVisit(v, ev.payload)
      return v
    }
    case 'visit.cancelled': {
      const v = heldVisit(person, ev.payload.mdtrt_id)
      if (!v) return undefined
      if (ev.payload.cancels === 'visit') cancelVisit(person, v)
      else cancelDischarge(v)
      return v
    }
    case 'settlement.completed': {
      const p = ev.payload
      const v = visitOf(person, p.mdtrt_id, ev.source.fixmedins_code)
      if (!v.opened) v.med_type = intern(p.med_type)
      v.settlements.set(p.setl_id, {
        setl_id: p.setl_id,
        mdtrt_id: v.mdtrt_id,
        event_id: ev.event_id,
        setl_time: Date.parse(p.setl_time),
        med_type: intern(p.med_type),
        medfee_sumamt: Number(p.medfee_sumamt),
        hifp_pay: Number(p.hifp_pay),
        fund_pay_sumamt: Number(p.fund_pay_sumamt),
        acct_pay: Number(p.acct_pay),
        inscp_scp_amt: Number(p.inscp_scp_amt),
        pay_grp: p.pay_grp ? { type: intern(p.pay_grp.type), code: intern(p.pay_grp.code), weight: Number(p.pay_grp.weight) } : undefined,
        reversed: v.settlements.get(p.setl_id)?.reversed ?? false,
      })
      return v
    }
    case 'settlement.reversed': {
      const v = heldVisit(person, ev.payload.mdtrt_id)
      if (!v) return undefined
      const s = v.settlements.get(ev.payload.setl_id)
      if (s) s.reversed = true
      return v
    }
    case 'inventory.movement':
      return undefined
  }
}

/** visit.updated: each field given replaces the visit's; `diagnoses` replaces the list. */
export function updateVisit(v: VisitState, p: { med_type?: string; diagnoses?: Diagnosis[]; adm_dept_codg?: string; atddr_no?: string }): void {
  if (p.med_type !== undefined) v.med_type = intern(p.med_type)
  if (p.diagnoses !== undefined) v.diagnoses = diagnosesState(p.diagnoses)
  if (p.adm_dept_codg !== undefined) v.adm_dept_codg = intern(p.adm_dept_codg)
  if (p.atddr_no !== undefined) v.atddr_no = intern(p.atddr_no)
}

/**
 * A visit's diagnoses as state holds them: the three fields detectors read
 * (a loose event's extra fields are not stored, so a visit reloaded from the
 * store has no other), codes and names interned.
 */
export function diagnosesState(ds: readonly Diagnosis[]): Diagnosis[] {
  return ds.map((d) => ({ diag_code: intern(d.diag_code), diag_name: intern(d.diag_name), maindiag_flag: intern(d.maindiag_flag) }))
}

/** A visit's operations as state holds them; none is one shared empty list (most visits have none). */
export function operationsState(os: readonly { oprn_oprt_code: string; oprn_oprt_date: string }[]): VisitState['operations'] {
  if (os.length === 0) return NO_OPERATIONS
  return os.map((o) => ({ oprn_oprt_code: intern(o.oprn_oprt_code), oprn_oprt_date: intern(o.oprn_oprt_date) }))
}

const NO_OPERATIONS: VisitState['operations'] = Object.freeze([])

/**
 * Strings state holds many times over — codes of items, departments,
 * doctors, institutions, medical types, diagnoses — as one copy each. Every
 * string a decoded event or a stored row brings is a fresh copy (V8 shares
 * only the shortest), and they were about a third of a person's heap
 * (bench/state-footprint.ts). Identifiers (feedetl_sn, event_id, setl_id,
 * mdtrt_id) are not interned: each is held once already, and they would only
 * churn the table.
 *
 * Bounded: at INTERN_MAX distinct strings the table starts again empty (the
 * strings state holds stay where they are; only later copies go unshared
 * until they are seen again), so a stream of ever-new codes cannot grow it.
 * Equal strings are equal whichever copy is held: no detector can tell.
 */
export const INTERN_MAX = 65_536
let interned = new Map<string, string>()

/** Distinct strings the intern table holds now (at most INTERN_MAX). */
export function internedCount(): number {
  return interned.size
}

export function intern<T extends string>(s: T): T
export function intern<T extends string>(s: T | undefined): T | undefined
export function intern<T extends string>(s: T | undefined): T | undefined {
  if (s === undefined) return undefined
  const held = interned.get(s)
  if (held !== undefined) return held as T
  if (interned.size >= INTERN_MAX) interned = new Map()
  interned.set(s, s)
  return s
}

/**
 * visit.cancelled 'visit' (national 2202/2404): the visit never happened. It
 * leaves `visits` — detectors no longer see it, its lines or its settlements —
 * for `cancelled`, where later events of the visit still find it. Final: a
 * later event of the same visit does not bring it back.
 */
export function cancelVisit(person: PersonState, v: VisitState): void {
  v.cancelled = true
  person.visits.delete(v.mdtrt_id)
  if (person.cancelled === NONE_CANCELLED) person.cancelled = new Map()
  person.cancelled.set(v.mdtrt_id, v)
}

/**
 * visit.cancelled 'discharge' (national 2405): the stay is open again. The
 * discharge's diagnoses stay the visit's (the latest the institution stated);
 * a later visit.closed discharges it anew.
 */
export function cancelDischarge(v: VisitState): void {
  v.endtime = undefined
  v.dscg_way = undefined
  v.dscg_maindiag_code = undefined
  v.operations = NO_OPERATIONS
  v.close_event_id = undefined
}

/** "0000" in fee.reversed.chrg_bchno: every line of the visit not yet settled (national 2205/2302). */
export const EVERY_UNSETTLED_LINE = '0000'

/**
 * The lines a reversal by charge batch withdraws, as the visit's state knows
 * them: those uploaded with that chrg_bchno; for "0000", every line not yet
 * settled — dated (fee_ocur_time) after the latest settlement of the visit
 * that stands, every line when none does. Lines reversed already are named
 * too, so a redelivered reversal resolves to the lines it resolved to before.
 */
export function linesOfBatch(v: VisitState | undefined, chrg_bchno: string): string[] {
  if (v === undefined) return []
  const out: string[] = []
  if (chrg_bchno === EVERY_UNSETTLED_LINE) {
    let settled = -Infinity
    for (const s of v.settlements.values()) if (!s.reversed && s.setl_time > settled) settled = s.setl_time
    for (const l of v.lines.values()) if (l.fee_ocur_time > settled) out.push(l.feedetl_sn)
  } else {
    for (const l of v.lines.values()) if (l.chrg_bchno === chrg_bchno) out.push(l.feedetl_sn)
  }
  return out
}

/**
 * A fee.reversed by charge batch, made to name its lines: feedetl_sns becomes
 * the lines given (if any) and those linesOfBatch finds in the person's state
 * as it stands before the event. Called before the event's rows are built
 * (src/pipeline/pipeline.ts), so the stored reversal rows name lines and a
 * reload applies them; the raw event stays as sent. One that names no line
 * is left without: admission flags it (reversal_of_unknown_batch).
 */
export function resolveChargeBatch(ev: AnyEvent, person: PersonState | undefined): void {
  if (ev.event_type !== 'fee.reversed' || ev.payload.chrg_bchno === undefined) return
  const p = ev.payload
  const sns = new Set([...(p.feedetl_sns ?? []), ...linesOfBatch(person && heldVisit(person, p.mdtrt_id), p.chrg_bchno!)])
  if (sns.size > 0) p.feedetl_sns = [...sns]
}

export function newPerson(psn_no: string, owner: string): PersonState {
  return { psn_no, visits: new Map(), cancelled: NONE_CANCELLED, owner, last_event_time: 0, alerts: NO_ALERTS }
}

/**
 * What most persons hold none of — a cancelled visit, an alert raised on
 * their facts — is one empty Map shared by all of them instead of one each
 * (an empty Map takes 184 bytes, 3% of a person; bench/state-footprint.ts).
 * A writer gives the person a Map of its own first (cancelVisit, ownAlerts);
 * `set` on a shared one throws, so a writer that forgets cannot put one
 * person's visit or alert into every person's state.
 */
function sharedEmpty<V>(what: string, writer: string): Map<string, V> {
  const m = new Map<string, V>()
  Object.defineProperty(m, 'set', {
    enumerable: false,
    value: () => {
      throw new Error(`person state: the shared empty \`${what}\` is read-only (${writer} gives a person a Map of its own)`)
    },
  })
  return m
}
const NONE_CANCELLED = sharedEmpty<VisitState>('cancelled', 'cancelVisit')
const NO_ALERTS = sharedEmpty<Alert>('alerts', 'ownAlerts')

/** The person's alerts, as a Map of its own to add to. */
export function ownAlerts(person: PersonState): Map<string, Alert> {
  if (person.alerts === NO_ALERTS) person.alerts = new Map()
  return person.alerts
}

/** The visit as held, whether it counts or was cancelled. */
export function heldVisit(person: PersonState, mdtrt_id: string): VisitState | undefined {
  return person.visits.get(mdtrt_id) ?? person.cancelled.get(mdtrt_id)
}

/** The visit, created empty when the visit's first event is not visit.opened (lines can arrive first). */
export function visitOf(person: PersonState, mdtrt_id: string, fixmedins_code: string): VisitState {
  let v = heldVisit(person, mdtrt_id)
  if (!v) {
    v = {
      mdtrt_id, psn_no: person.psn_no, fixmedins_code: intern(fixmedins_code), opened: false, med_type: '', insutype: '', begntime: 0,
      atddr_no: '', adm_dept_codg: '', diagnoses: [], operations: NO_OPERATIONS, lines: new Map(), settlements: new Map(),
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
    med_list_codg: intern(l.med_list_codg),
    medins_list_codg: intern(l.medins_list_codg),
    list_type: intern(l.list_type),
    med_chrgitm_type: intern(l.med_chrgitm_type),
    cnt: Number(l.cnt),
    pric: Number(l.pric),
    amount: Number(l.det_item_fee_sumamt),
    bilg_dept_codg: intern(l.bilg_dept_codg),
    bilg_dr_codg: intern(l.bilg_dr_codg),
    prd_days: l.prd_days,
    hours: l.hours === undefined ? undefined : Number(l.hours),
    chrg_bchno: chrgBchno(l),
    reversed,
  }
}

/** A contract line's charge batch: a pass-through extra field, taken when it is a non-empty string. */
export function chrgBchno(l: FeeLine): string | undefined {
  const b = (l as Record<string, unknown>).chrg_bchno
  return typeof b === 'string' && b !== '' ? b : undefined
}

/**
 * Drops visits that ended before the window; keeps state bounded. An inpatient
 * stay still open is kept up to a year (long stays are what bed-holding and
 * phantom-service look at); other visits without a close (outpatient visits
 * are rarely closed) count from their start.
 */
export function prune(person: PersonState, windowDays: number): void {
  const horizon = person.last_event_time - windowDays * 86_400_000
  for (const visits of [person.visits, person.cancelled]) {
    for (const [id, v] of visits) {
      if (v.begntime === 0) continue
      const openStay = v.endtime === undefined && v.med_type.startsWith('2')
      const end = v.endtime ?? (openStay ? v.begntime + 365 * 86_400_000 : v.begntime)
      if (end < horizon) visits.delete(id)
    }
  }
  // An alert can be revised only through a visit it rests on: once none is held, it is left as it stands.
  for (const [id, a] of person.alerts) if (!a.refs.mdtrt_ids.some((m) => person.visits.has(m))) person.alerts.delete(id)
}
