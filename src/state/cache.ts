import type { Diagnosis } from '../../schemas/index.ts'
import type { Metrics } from '../metrics.ts'
import { ALERT_TABLES, latestOf } from '../store/alerts.ts'
import { DIAGS } from '../store/migrations.ts'
import { alertFromRow } from '../store/rows.ts'
import type { Store } from '../store/store.ts'
import { chTime, fromChTime } from '../util/time.ts'
import { cancelDischarge, cancelVisit, diagnosesState, heldVisit, intern, newPerson, operationsState, ownAlerts, updateVisit, visitOf } from './apply.ts'
import type { PersonState } from './types.ts'

const LOAD_CHUNK = 1000

interface Held {
  state: PersonState
  /** Sequence number of the newest batch that touched it; evictable once that batch is stored. */
  batch: number
  /** stateBytes(state) when last measured (at load, and after each batch that touched it was stored). */
  bytes: number
  /**
   * Its partition was revoked while a batch that touched it was not yet
   * stored (dropOwner). Kept for the batches already under way; dropped once
   * they are stored, and never used by a later batch without a reload.
   */
  revoked?: true
}

/**
 * Heap bytes a person's state takes, estimated from what it holds. Measured
 * with `npm run bench -- state-footprint` (bench/state-footprint.ts: a
 * generated month decoded and applied as the pipeline does, heap held and
 * after dropping it, Node 24): 4,825 persons, 9,214 visits, 46,821 lines,
 * 9,264 settlements, 10,026 diagnoses took 26.2 MB, 5.4 KB a person — lines
 * 303 B each, settlements 432, visits 356, diagnoses 100 (with their list),
 * persons 217 (those with no alert or cancelled visit share one empty Map of
 * each), and the strings no other state shares (identifiers: feedetl_sn,
 * event_id, mdtrt_id, setl_id, psn_no) 560 B a person; codes are interned
 * (intern, src/state/apply.ts). These weights, those strings included, give
 * 1.03× the measured heap for the same state (1.01× rebuilt from the store).
 * An alert held for revision weighs its evidence.
 */
const PERSON_BYTES = 270
const VISIT_BYTES = 460
const LINE_BYTES = 340
const SETTLEMENT_BYTES = 500
const DIAGNOSIS_BYTES = 100
const ALERT_BYTES = 3000

export function stateBytes(p: PersonState): number {
  let b = PERSON_BYTES + p.alerts.size * ALERT_BYTES
  for (const visits of [p.visits, p.cancelled]) {
    for (const v of visits.values()) b += VISIT_BYTES + v.lines.size * LINE_BYTES + v.settlements.size * SETTLEMENT_BYTES + v.diagnoses.length * DIAGNOSIS_BYTES
  }
  return b
}

/**
 * Person state for the partitions this processor owns: a bounded cache over
 * ClickHouse history. A person missing from the cache (first sight, a partition
 * newly assigned after a rebalance, a restart) is loaded from the stored rows
 * before the batch is processed — all misses of a batch in one round of queries.
 * Eviction never drops a person touched by a batch that is not yet stored,
 * because a reload could not see that batch's rows.
 *
 * Bounded by memory, not only by a count: the held persons' estimated bytes
 * (stateBytes) stay under `maxBytes`, and their number under `maxPersons`;
 * beyond either, the least recently touched go first (the Map's order: a
 * person touched again moves to its end).
 *
 * A rebalance (dropOwner) never takes a person from under a batch under way:
 * the persons of a revoked partition that a batch not yet stored touched
 * stay, for that batch (it may still be handed over records fetched before
 * the revoke, and its commit may yet succeed), and go once it is stored. A
 * later batch that meets one (the partition came back, or it was fetched
 * before the revoke) waits until the batches that touched it are stored,
 * then reloads it: the store then holds what this processor wrote, and
 * whatever the partition's other owner wrote meanwhile.
 *
 * Batch numbers come from `begin()`, one sequence for every pipeline the
 * cache serves (`npm start` runs two, one after the other).
 */
export class PersonCache {
  private readonly held = new Map<string, Held>()
  private heldBytes = 0
  /** The persons each batch not yet trimmed touched: their state grew while the batch was applied. */
  private readonly touched = new Map<number, string[]>()
  /** The last batch number handed out by begin(). */
  private begun = 0
  /** Every batch up to this one is stored (trim). */
  private stored = 0
  /** Per owner, the last batch number handed out when it was last revoked. */
  private readonly revokedAt = new Map<string, number>()
  /** Batches waiting in ensure() for an earlier batch to be stored. */
  private readonly waiting = new Set<{ batch: number; done: () => void }>()

  constructor(private readonly store: Store, private readonly opts: { maxPersons: number; maxBytes: number; metrics?: Metrics }) {}

  /** Estimated heap bytes of the persons held. */
  get bytes(): number {
    return this.heldBytes
  }

  get size(): number {
    return this.held.size
  }

  get(psn_no: string): PersonState | undefined {
    return this.held.get(psn_no)?.state
  }

  /** A new batch's number: larger than every number handed out before, whichever pipeline asked. */
  begin(): number {
    return ++this.begun
  }

  /**
   * Makes every person of the batch present, loading misses from ClickHouse
   * history since `sinceMs`. A person whose partition was revoked is loaded
   * again, after the earlier batches that touched it are stored: `signal`
   * ends that wait.
   */
  async ensure(psns: Iterable<{ psn_no: string; owner: string }>, batch: number, sinceMs: number, signal?: AbortSignal): Promise<void> {
    const missing = new Map<string, string>()
    const touched: string[] = []
    let after = 0
    for (const { psn_no, owner } of psns) {
      touched.push(psn_no)
      const h = this.held.get(psn_no)
      if (h?.revoked && h.batch !== batch) {
        // Held for a batch under way when its partition was revoked: this
        // batch reads it again once that batch is stored. A number above this
        // batch's is a batch that will never be stored (its pipeline ended).
        if (h.batch > this.stored && h.batch < batch) after = Math.max(after, h.batch)
        missing.set(psn_no, owner)
      } else if (h) {
        h.batch = batch
        h.state.owner = owner
        // Most recently used last.
        this.held.delete(psn_no)
        this.held.set(psn_no, h)
      } else missing.set(psn_no, owner)
    }
    this.touched.set(batch, [...(this.touched.get(batch) ?? []), ...touched])
    if (missing.size === 0) return
    if (after > this.stored) await this.storedThrough(after, signal)
    for (const psn_no of missing.keys()) {
      const h = this.held.get(psn_no)
      if (h?.revoked) this.forget(psn_no, h)
    }
    // Persons travel as a query parameter, i.e. in the request URI: bounded per query.
    const ids = [...missing.keys()]
    const loaded = new Map<string, PersonState>()
    for (let i = 0; i < ids.length; i += LOAD_CHUNK) {
      for (const [k, v] of await loadPersons(this.store, ids.slice(i, i + LOAD_CHUNK), sinceMs, { probe: true })) loaded.set(k, v)
    }
    for (const [psn_no, owner] of missing) {
      const state = loaded.get(psn_no) ?? newPerson(psn_no, owner)
      state.owner = owner
      const bytes = stateBytes(state)
      // Loaded for a batch begun before its partition was revoked (the revoke came while it loaded): held for this batch only.
      this.held.set(psn_no, (this.revokedAt.get(owner) ?? 0) >= batch ? { state, batch, bytes, revoked: true } : { state, batch, bytes })
      this.heldBytes += bytes
    }
    this.opts.metrics?.stateLoads.inc(missing.size)
    this.report()
  }

  /**
   * After batch `storedBatch` is durably stored: the persons it touched are
   * measured again, then the least recently touched are evicted until both
   * bounds hold — never one a batch not yet stored touched.
   */
  trim(storedBatch: number): void {
    if (storedBatch > this.stored) this.stored = storedBatch
    for (const w of this.waiting) if (w.batch <= this.stored) w.done()
    for (const [b, psns] of this.touched) {
      if (b > storedBatch) continue
      for (const k of psns) {
        const h = this.held.get(k)
        if (!h) continue
        const bytes = stateBytes(h.state)
        this.heldBytes += bytes - h.bytes
        h.bytes = bytes
      }
      this.touched.delete(b)
    }
    // Revoked persons no batch under way needs any more.
    for (const [k, h] of this.held) if (h.revoked && h.batch <= storedBatch) this.forget(k, h)
    let evicted = 0
    for (const [k, h] of this.held) {
      if (this.held.size <= this.opts.maxPersons && this.heldBytes <= this.opts.maxBytes) break
      if (h.batch > storedBatch) continue
      this.forget(k, h)
      evicted++
    }
    if (evicted) this.opts.metrics?.stateEvictions.inc(evicted)
    this.report()
  }

  private report(): void {
    this.opts.metrics?.statePersons.set(this.held.size)
    this.opts.metrics?.stateBytes.set(this.heldBytes)
  }

  /**
   * A partition was revoked: its persons now belong to another processor.
   * Those no batch under way touched are dropped now; the others are marked,
   * and dropped when their batch is stored (trim). Returns how many it marked
   * or dropped.
   */
  dropOwner(owner: string): number {
    this.revokedAt.set(owner, this.begun)
    let n = 0
    for (const [k, h] of this.held) {
      if (h.state.owner !== owner) continue
      if (h.batch > this.stored) h.revoked = true
      else this.forget(k, h)
      n++
    }
    this.report()
    return n
  }

  private forget(psn_no: string, h: Held): void {
    this.held.delete(psn_no)
    this.heldBytes -= h.bytes
  }

  /** Resolves once batch `batch` is stored (trim), rejects when `signal` aborts first. */
  private storedThrough(batch: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      signal?.throwIfAborted()
      const w = {
        batch,
        done: () => {
          this.waiting.delete(w)
          signal?.removeEventListener('abort', abort)
          resolve()
        },
      }
      const abort = () => {
        this.waiting.delete(w)
        reject(signal!.reason)
      }
      this.waiting.add(w)
      signal?.addEventListener('abort', abort, { once: true })
    })
  }

  /** Forgets every person, as a restart would: revokes included (batches under way are left to finish). */
  clear(): void {
    this.held.clear()
    this.touched.clear()
    this.revokedAt.clear()
    this.heldBytes = 0
    this.report()
  }
}

type Row = Record<string, unknown>
/** Up to this many candidates, loadPersons reads without probing first. */
const FEW = 8
const ms = (v: unknown) => fromChTime(String(v))

/**
 * A batch's persons' reversals. Not FINAL: the tables' projection sorted by
 * psn_no (migration 8) is never used with FINAL, and without it each batch
 * scans both tables whole. The rows only feed sets, where a duplicate not yet
 * merged away changes nothing.
 */
export function reversalsByPerson(store: Store): { lines: string; settlements: string } {
  return {
    lines: `SELECT DISTINCT psn_no, mdtrt_id, feedetl_sn, event_time FROM ${store.t('fee_reversals')} WHERE psn_no IN {psns:Array(String)}`,
    settlements: `SELECT DISTINCT psn_no, setl_id, event_time FROM ${store.t('settlement_reversals')} WHERE psn_no IN {psns:Array(String)}`,
  }
}

/**
 * Rebuilds person state from stored rows (FINAL: replays may have written rows
 * twice before a merge). The queries run together, one round per batch.
 */
export async function loadPersons(store: Store, candidates: string[], sinceMs: number, opts: { alerts?: boolean; probe?: boolean } = {}): Promise<Map<string, PersonState>> {
  // Most misses are persons never seen before. One query on the sorting-key
  // column alone (no FINAL, no other columns) finds those with any history;
  // only they pay for the full reads below. Without it, each batch's full
  // reads of random persons touched nearly every granule of six tables with
  // FINAL, and a replay slowed down quadratically with the size of the store.
  // For a handful of persons (a pre-check) the probe costs a round of its own
  // and saves nothing: read them directly. The pipeline always probes (`probe`):
  // at a trickle a batch misses a few persons, mostly new ones, and one probe
  // instead of eight reads is most of what such a batch would cost the store.
  const psns = candidates.length <= FEW && !opts.probe ? candidates : (await store.query<{ psn_no: string }>(
    `SELECT DISTINCT psn_no FROM (
      SELECT psn_no FROM ${store.t('visits')} WHERE psn_no IN {psns:Array(String)}
      UNION ALL SELECT psn_no FROM ${store.t('fee_lines')} WHERE psn_no IN {psns:Array(String)}
      UNION ALL SELECT psn_no FROM ${store.t('settlements')} WHERE psn_no IN {psns:Array(String)})`,
    { psns: candidates },
  )).map((r) => r.psn_no)
  if (psns.length === 0) return new Map()
  const p = { psns, since: chTime(sinceMs) }
  const [visits, discharges, lines, fr, setls, sr, visitChanges, alerts] = await Promise.all([
    // The columns the state holds: never the person's name or ID number (certno), which no detector reads.
    store.query<Row>(`SELECT psn_no, mdtrt_id, fixmedins_code, med_type, insutype, begntime, atddr_no, adm_dept_codg, gend, brdy, diagnoses, event_id, event_time
      FROM ${store.t('visits')} FINAL WHERE psn_no IN {psns:Array(String)} AND begntime >= {since:DateTime64(3,'UTC')} - INTERVAL 366 DAY`, p),
    store.query<Row>(`SELECT * FROM ${store.t('discharges')} FINAL WHERE psn_no IN {psns:Array(String)} AND endtime >= {since:DateTime64(3,'UTC')} - INTERVAL 366 DAY`, p),
    store.query<Row>(`SELECT psn_no, mdtrt_id, feedetl_sn, fixmedins_code, fee_ocur_time, med_list_codg, medins_list_codg, list_type, med_chrgitm_type,
        toString(cnt) AS cnt, toString(pric) AS pric, toString(det_item_fee_sumamt) AS amt, bilg_dept_codg, bilg_dr_codg, prd_days, toString(hours) AS hours, chrg_bchno, event_id, event_time
      FROM ${store.t('fee_lines')} FINAL WHERE psn_no IN {psns:Array(String)} AND fee_ocur_time >= {since:DateTime64(3,'UTC')}`, p),
    store.query<Row>(reversalsByPerson(store).lines, p),
    store.query<Row>(`SELECT setl_id, mdtrt_id, psn_no, fixmedins_code, setl_time, med_type, toString(medfee_sumamt) AS medfee_sumamt, toString(hifp_pay) AS hifp_pay,
        toString(fund_pay_sumamt) AS fund_pay_sumamt, toString(acct_pay) AS acct_pay, toString(inscp_scp_amt) AS inscp_scp_amt, pay_grp_type, pay_grp_code, toString(pay_grp_weight) AS pay_grp_weight, event_id
      FROM ${store.t('settlements')} FINAL WHERE psn_no IN {psns:Array(String)} AND setl_time >= {since:DateTime64(3,'UTC')}`, p),
    store.query<Row>(reversalsByPerson(store).settlements, p),
    // Changes come after the visit began, so the visits' bound holds them all.
    // Both kinds of visit change in one read: the store answers one query at a time, and a pre-check waits for every read.
    store.query<Row>(`SELECT 'update' AS kind, psn_no, mdtrt_id, med_type, adm_dept_codg, atddr_no, has_diagnoses, diagnoses, '' AS cancels, event_time
        FROM ${store.t('visit_updates')} FINAL WHERE psn_no IN {psns:Array(String)} AND event_time >= {since:DateTime64(3,'UTC')} - INTERVAL 366 DAY
      UNION ALL SELECT 'cancel' AS kind, psn_no, mdtrt_id, '', '', '', 0, CAST([] AS ${DIAGS}), cancels, event_time
        FROM ${store.t('visit_cancellations')} FINAL WHERE psn_no IN {psns:Array(String)} AND event_time >= {since:DateTime64(3,'UTC')} - INTERVAL 366 DAY`, p),
    // Every stored revision of the streaming alerts on these persons (few: alerts are rare); the latest of each is kept.
    // From both tables: a shadow detector's alerts are revised and withdrawn exactly as a live one's, and the
    // latest revision wins wherever it is (a demoted detector's next revision of a live alert is in shadow_alerts).
    opts.alerts === false ? [] : store.query<Row>(ALERT_TABLES.map((t) => `SELECT * FROM ${store.t(t)} WHERE psn_no IN {psns:Array(String)} AND stage = 'in'
      AND event_time >= {since:DateTime64(3,'UTC')} - INTERVAL 366 DAY`).join(' UNION ALL '), p),
  ])
  const out = new Map<string, PersonState>()
  const person = (psn_no: string) => {
    let s = out.get(psn_no)
    if (!s) out.set(psn_no, (s = newPerson(psn_no, '')))
    return s
  }
  const bump = (s: PersonState, t: number) => { if (t > s.last_event_time) s.last_event_time = t }
  // In the order they arrived: the latest visit.opened that says who the person is stands, as in applyEvent.
  visits.sort((a, b) => ms(a.event_time) - ms(b.event_time))
  for (const r of visits) {
    const s = person(String(r.psn_no))
    const v = visitOf(s, String(r.mdtrt_id), String(r.fixmedins_code))
    Object.assign(v, {
      opened: true, med_type: intern(String(r.med_type)), insutype: intern(String(r.insutype)), begntime: ms(r.begntime), atddr_no: intern(String(r.atddr_no)),
      adm_dept_codg: intern(String(r.adm_dept_codg)), diagnoses: diagnosesState(diagnoses(r.diagnoses)), open_event_id: String(r.event_id),
    })
    // A visit without psn (no resident ID to derive it from) is stored with gend '9' and brdy '': it says nothing about the person.
    if (r.brdy) {
      s.gend = String(r.gend)
      s.brdy = String(r.brdy)
    }
    bump(s, ms(r.begntime))
  }
  const reversed = new Set(fr.map((r) => `${r.mdtrt_id}/${r.feedetl_sn}`))
  // The rows of one upload repeat its event_id and charge batch: one copy each for this load.
  const copies = new Map<string, string>()
  const once = (s: string) => copies.get(s) ?? (copies.set(s, s), s)
  for (const r of lines) {
    const s = person(String(r.psn_no))
    const v = visitOf(s, String(r.mdtrt_id), String(r.fixmedins_code))
    const t = ms(r.fee_ocur_time)
    v.lines.set(String(r.feedetl_sn), {
      feedetl_sn: String(r.feedetl_sn), mdtrt_id: v.mdtrt_id, event_id: once(String(r.event_id)), fee_ocur_time: t,
      med_list_codg: intern(String(r.med_list_codg)), medins_list_codg: intern(String(r.medins_list_codg)), list_type: intern(r.list_type as 'drug'),
      med_chrgitm_type: intern(String(r.med_chrgitm_type)), cnt: Number(r.cnt), pric: Number(r.pric), amount: Number(r.amt),
      bilg_dept_codg: intern(String(r.bilg_dept_codg)), bilg_dr_codg: intern(String(r.bilg_dr_codg)),
      prd_days: r.prd_days === null ? undefined : Number(r.prd_days), hours: r.hours === null || r.hours === '\\N' ? undefined : Number(r.hours),
      chrg_bchno: r.chrg_bchno ? once(String(r.chrg_bchno)) : undefined,
      reversed: reversed.has(`${r.mdtrt_id}/${r.feedetl_sn}`),
    })
    // The upload's time, as applyEvent counts it (a line may be dated ahead: bed days billed for the planned stay).
    bump(s, ms(r.event_time))
  }
  // A reversal is an event of the person's too: the newest one may be the latest event.
  for (const r of [...fr, ...sr]) {
    const s = out.get(String(r.psn_no))
    if (s) bump(s, ms(r.event_time))
  }
  const setlReversed = new Set(sr.map((r) => String(r.setl_id)))
  for (const r of setls) {
    const s = person(String(r.psn_no))
    const v = visitOf(s, String(r.mdtrt_id), String(r.fixmedins_code))
    v.settlements.set(String(r.setl_id), {
      setl_id: String(r.setl_id), mdtrt_id: v.mdtrt_id, event_id: String(r.event_id), setl_time: ms(r.setl_time), med_type: intern(String(r.med_type)),
      medfee_sumamt: Number(r.medfee_sumamt), hifp_pay: Number(r.hifp_pay), fund_pay_sumamt: Number(r.fund_pay_sumamt), acct_pay: Number(r.acct_pay), inscp_scp_amt: Number(r.inscp_scp_amt),
      pay_grp: r.pay_grp_type ? { type: intern(r.pay_grp_type as 'DRG'), code: intern(String(r.pay_grp_code)), weight: Number(r.pay_grp_weight) } : undefined,
      reversed: setlReversed.has(String(r.setl_id)),
    })
    if (!v.opened) v.med_type = intern(String(r.med_type))
    bump(s, ms(r.setl_time))
  }
  // What changed the visits after they began — discharges, visit.updated, visit.cancelled — in the order
  // it happened (event_time; at the same time a change before the discharge, a cancellation after it), as
  // applyEvent applied it. A discharge establishes its visit; a change or a cancellation of a visit
  // nothing establishes was never applied (src/state/apply.ts), and is not here either.
  const changes: { t: number; rank: number; r: Row; kind: 'discharge' | 'update' | 'cancel' }[] = [
    ...discharges.map((r) => ({ t: ms(r.event_time), rank: 1, r, kind: 'discharge' as const })),
    ...visitChanges.map((r) => (r.kind === 'update' ? { t: ms(r.event_time), rank: 0, r, kind: 'update' as const } : { t: ms(r.event_time), rank: 2, r, kind: 'cancel' as const })),
  ].sort((a, b) => a.t - b.t || a.rank - b.rank)
  for (const { r, kind, t } of changes) {
    const s = kind === 'discharge' ? person(String(r.psn_no)) : out.get(String(r.psn_no))
    if (s === undefined) continue
    if (kind === 'discharge') {
      const v = visitOf(s, String(r.mdtrt_id), String(r.fixmedins_code))
      v.endtime = ms(r.endtime)
      v.dscg_way = intern(String(r.dscg_way))
      v.dscg_maindiag_code = intern(String(r.dscg_maindiag_code))
      const d = diagnoses(r.diagnoses)
      if (d.length) v.diagnoses = diagnosesState(d)
      v.operations = operationsState((r.operations as [string, string][] | { oprn_oprt_code: string; oprn_oprt_date: string }[]).map((o) =>
        Array.isArray(o) ? { oprn_oprt_code: o[0], oprn_oprt_date: o[1] } : o))
      v.close_event_id = String(r.event_id)
      bump(s, v.endtime)
      continue
    }
    bump(s, t)
    const v = heldVisit(s, String(r.mdtrt_id))
    if (v === undefined) continue
    if (kind === 'update') {
      updateVisit(v, {
        ...(r.med_type ? { med_type: String(r.med_type) } : {}), ...(r.adm_dept_codg ? { adm_dept_codg: String(r.adm_dept_codg) } : {}),
        ...(r.atddr_no ? { atddr_no: String(r.atddr_no) } : {}), ...(Number(r.has_diagnoses) ? { diagnoses: diagnoses(r.diagnoses) } : {}),
      })
    } else if (r.cancels === 'visit') cancelVisit(s, v)
    else cancelDischarge(v)
  }
  // A visit that began before the window still matters while it is open or
  // ended inside the window (a long stay); visits ended before it are dropped.
  for (const s of out.values()) {
    for (const visits of [s.visits, s.cancelled]) for (const [id, v] of visits) if ((v.endtime ?? Infinity) < sinceMs) visits.delete(id)
    if (s.visits.size === 0 && s.cancelled.size === 0) out.delete(s.psn_no)
  }
  // Alerts that rest on a held visit: the ones later facts may revise.
  for (const r of latestOf(alerts)) {
    const s = out.get(String(r.psn_no))
    const a = alertFromRow(r)
    if (s && a.refs.mdtrt_ids.some((m) => s.visits.has(m))) ownAlerts(s).set(a.alert_id, a)
  }
  return out
}

function diagnoses(v: unknown): Diagnosis[] {
  return ((v ?? []) as (Diagnosis | [string, string, string])[]).map((d) =>
    Array.isArray(d) ? { diag_code: d[0], diag_name: d[1], maindiag_flag: d[2] as '0' | '1' } : d)
}
