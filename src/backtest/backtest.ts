import type { Alert, AnyEvent } from '../../schemas/index.ts'
import type { DetectEngine } from '../detect/engine.ts'
import { modeIn } from '../detect/shadow.ts'
import { evaluate } from '../generator/evaluate.ts'
import type { Label } from '../generator/labels.ts'
import type { KnowledgeBase } from '../kb/knowledge-base.ts'
import { DEFAULT_DECODE, type DecodeOptions } from '../pipeline/decode.ts'
import { DECODERS } from '../pipeline/formats.ts'
import { newPerson, prune, resolveChargeBatch } from '../state/apply.ts'
import type { PersonState } from '../state/types.ts'
import { psnOf } from '../store/rows.ts'
import type { Store } from '../store/store.ts'
import { compareYuan, sumYuan } from '../util/money.ts'
import { DAY_MS, chTime, cnIso } from '../util/time.ts'
import { SAMPLE, type AlertBrief, type BacktestResult, type DetectorDiff } from './result.ts'

export interface BacktestProgress {
  events_done: number
  events_total: number
}

export interface BacktestInput {
  store: Store
  kb: KnowledgeBase
  /** The rule base in force, and its hash. */
  baseline: { engine: DetectEngine; hash: string }
  /** The rule base to try, and its hash. */
  candidate: { engine: DetectEngine; hash: string }
  /** Epoch ms; the window is [from, to) on event_time. */
  from: number
  to: number
  labels?: readonly Label[]
  /** Events read per query (the bound on what is held of the stored history at once). */
  chunk?: number
  signal?: AbortSignal
  onProgress?: (p: BacktestProgress) => void
}

/** What a side keeps of an alert it reported: enough to diff, sample and score, not its evidence. */
type Kept = Pick<Alert, 'alert_id' | 'detector' | 'result' | 'severity' | 'subject' | 'refs' | 'amount_at_risk' | 'message' | 'status'>

/**
 * One rule base replaying the window: its own person state and the latest
 * revision of every alert an event of the window raised or revised. Nothing
 * here is shared with the running pipeline (its PersonCache, the store's
 * alert tables, the sinks): a backtest cannot change what a live run sees.
 */
class Side {
  readonly persons = new Map<string, PersonState>()
  readonly alerts = new Map<string, Kept>()

  constructor(readonly engine: DetectEngine) {}

  step(ev: AnyEvent, t: number, kb: KnowledgeBase, report: boolean, detectedAt: number, touched: Set<string>): void {
    const psn = psnOf(ev)
    let person: PersonState | undefined
    if (psn) {
      person = this.persons.get(psn)
      if (!person) this.persons.set(psn, (person = newPerson(psn, 'backtest')))
      touched.add(psn)
    }
    // As the pipeline does before building the event's rows: a reversal by charge batch names its lines from this side's state.
    resolveChargeBatch(ev, person)
    const out = new Map<string, Alert>()
    this.engine.step(out, { event: ev, eventTime: t, person, stage: 'in', kb }, detectedAt)
    if (!report) return
    for (const a of out.values()) {
      this.alerts.set(a.alert_id, { alert_id: a.alert_id, detector: a.detector, result: a.result, severity: a.severity, subject: a.subject, refs: a.refs, amount_at_risk: a.amount_at_risk, message: a.message, status: a.status })
    }
  }

  /** After each chunk, as the pipeline after each batch: visits out of the look-back dropped; a person left with nothing is let go (a reload would rebuild nothing either). */
  prune(touched: Iterable<string>): void {
    for (const psn of touched) {
      const p = this.persons.get(psn)
      if (!p) continue
      prune(p, this.engine.lookbackDays)
      if (p.visits.size === 0 && p.cancelled.size === 0 && p.alerts.size === 0) this.persons.delete(psn)
    }
  }

  standing(): Map<string, Kept> {
    return new Map([...this.alerts].filter(([, a]) => a.status !== 'withdrawn'))
  }
}

interface EventRow { event_id: string; psn_no: string; raw: string; ia: string; et: string }

/** Events replayed (through both sides) between two turns of the event loop: a few milliseconds of work. */
const YIELD_EVERY = 250

const DECODE: DecodeOptions = { ...DEFAULT_DECODE, maxBytes: Infinity, futureToleranceMs: Infinity }

/**
 * The stored event again, from its raw text as received: a contract event, or
 * one of the events a national transaction held (the one with this id). The
 * person a legacy reversal was resolved to at admission is the row's.
 */
export function decodeStored(row: Pick<EventRow, 'event_id' | 'psn_no' | 'raw'>): { event: AnyEvent; eventTime: number } | undefined {
  const bytes = Buffer.from(row.raw)
  for (const format of ['contract', 'national'] as const) {
    const r = DECODERS[format](bytes, DECODE)
    if (!r.ok) continue
    const hit = r.events.find((e) => e.event.event_id === row.event_id)
    if (!hit) continue
    const ev = hit.event
    if (ev.event_type !== 'inventory.movement' && ev.payload.psn_no === '' && row.psn_no) ev.payload.psn_no = row.psn_no
    return hit
  }
  return undefined
}

/**
 * Replays the stored events of [from, to) through the baseline and the
 * candidate rule base, each in its own state, and diffs what stands at the
 * end. One read serves both sides.
 *
 * Order: as a live run saw them — by arrival (ingested_at: one value per
 * stored batch, batches stored in order), then by position in the source
 * (a file's line, a partition's offset; one person's events share a
 * partition), so each person's events come in the order the pipeline
 * admitted them. An event stored twice (a redelivery before the merge) is
 * replayed once, at its first arrival.
 *
 * Warm-up: the events of the engines' look-back before `from` are replayed
 * first for state only (the alerts they raise are not reported), so a
 * detector that reads history sees what it would have seen live.
 *
 * Streaming detectors (事中) only: audit detectors run over the store on their
 * own schedule (fundwatch audit), not per event.
 */
export async function backtest(input: BacktestInput): Promise<BacktestResult> {
  return (await backtestWithIds(input)).result
}

/** Ids of the alerts each detector's diff counts, in full (the result holds samples). */
export type DiffIds = Map<string, { added: string[]; removed: string[]; changed: string[] }>

/** backtest(), with the full id lists behind its counts. */
export async function backtestWithIds(input: BacktestInput): Promise<{ result: BacktestResult; ids: DiffIds }> {
  const t0 = performance.now()
  const { store, kb } = input
  const chunk = input.chunk ?? 2000
  const lookback = Math.max(input.baseline.engine.lookbackDays, input.candidate.engine.lookbackDays)
  const lo = input.from - lookback * DAY_MS
  const range = { lo: chTime(lo), hi: chTime(input.to) }
  const events_ = store.t('events')
  const inWindow = `event_time >= {lo:DateTime64(3,'UTC')} AND event_time < {hi:DateTime64(3,'UTC')}`
  // Arrivals: one ingested_at per stored batch, so few rows. Chunks are runs of whole arrivals of about
  // `chunk` events (one arrival at least): each chunk query then reads only its rows' raw text, where
  // paging by offset or by key would sort the whole window again for every chunk.
  const arrivals = await store.query<{ ia: string; n: string }>(
    `SELECT toString(ingested_at) AS ia, count() AS n FROM ${events_} WHERE ${inWindow} GROUP BY ingested_at ORDER BY ingested_at`, range)
  // An event stored twice (redelivered before ReplacingMergeTree merged the copies) is replayed once, at
  // its first arrival. Such copies are rare and found in one pass; FINAL on every chunk would merge the window each time.
  const copies = await store.query<{ event_id: string; first: string; c: string }>(
    `SELECT event_id, toString(min(ingested_at)) AS first, count() AS c FROM ${events_} WHERE ${inWindow} GROUP BY event_id HAVING c > 1`, range)
  const twice = new Map(copies.map((r) => [r.event_id, r.first]))
  const slices: { a: string; b: string }[] = []
  let total = 0
  for (let i = 0, n = 0; i < arrivals.length; i++) {
    if (n === 0) slices.push({ a: arrivals[i]!.ia, b: arrivals[i]!.ia })
    slices.at(-1)!.b = arrivals[i]!.ia
    n += Number(arrivals[i]!.n)
    total += Number(arrivals[i]!.n)
    if (n >= chunk) n = 0
  }
  const progress: BacktestProgress = { events_done: 0, events_total: total - copies.reduce((x, r) => x + Number(r.c) - 1, 0) }
  input.onProgress?.({ ...progress })
  const base = new Side(input.baseline.engine)
  const cand = new Side(input.candidate.engine)
  const detectedAt = Date.now()
  let events = 0
  let warmup = 0
  let feeLines = 0
  let skipped = 0
  const done = new Set<string>()
  let turn = 0
  for (const { a, b } of slices) {
    input.signal?.throwIfAborted()
    const rows = await store.query<EventRow>(
      `SELECT event_id, psn_no, raw, toString(ingested_at) AS ia, replaceRegexpOne(source_pos, '[0-9]+$', '') AS ps,
          toUInt64OrZero(extract(source_pos, '[0-9]+$')) AS pn, toUnixTimestamp64Milli(event_time) AS et
        FROM ${events_}
        WHERE ${inWindow} AND ingested_at >= {a:DateTime64(3,'UTC')} AND ingested_at <= {b:DateTime64(3,'UTC')}
        ORDER BY ingested_at, ps, pn, event_id`,
      { ...range, a, b },
    )
    const touched = new Set<string>()
    let n = 0
    for (const r of rows) {
      // A stored batch may hold more than a chunk (10,000 events by default): the event loop gets a turn every few hundred events.
      if (++turn % YIELD_EVERY === 0) await new Promise<void>((res) => setImmediate(res))
      const first = twice.get(r.event_id)
      if (first !== undefined) {
        if (r.ia !== first || done.has(r.event_id)) continue
        done.add(r.event_id)
      }
      n++
      const report = Number(r.et) >= input.from
      const d = decodeStored(r)
      if (!d) {
        skipped++
        continue
      }
      if (report) {
        events++
        if (d.event.event_type === 'fee.uploaded') feeLines += d.event.payload.lines.length
      } else warmup++
      // A reversal by charge batch is completed from each side's own state: each side gets its own payload.
      const other = d.event.event_type === 'fee.reversed' && d.event.payload.chrg_bchno !== undefined ? { ...d.event, payload: { ...d.event.payload } } : d.event
      base.step(d.event, d.eventTime, kb, report, detectedAt, touched)
      cand.step(other, d.eventTime, kb, report, detectedAt, touched)
    }
    base.prune(touched)
    cand.prune(touched)
    progress.events_done += n
    input.onProgress?.({ ...progress })
    // Between chunks the event loop is free: a backtest in the API process never holds it for more than a chunk.
    await new Promise<void>((r) => setImmediate(r))
  }
  input.signal?.throwIfAborted()
  const ids: DiffIds = new Map()
  const detectors = await diff(store, base, cand, input.labels, ids)
  const result: BacktestResult = {
    window: { from: cnIso(input.from), to: cnIso(input.to) },
    baseline_hash: input.baseline.hash, candidate_hash: input.candidate.hash,
    events, fee_lines: feeLines, elapsed_ms: Math.round(performance.now() - t0), warmup_events: warmup, skipped,
    labelled: input.labels !== undefined,
    detectors,
  }
  return { result, ids }
}

function brief(a: Kept): AlertBrief {
  return {
    alert_id: a.alert_id, fixmedins_code: a.subject.fixmedins_code, psn_no: a.subject.psn_no ?? '', mdtrt_id: a.subject.mdtrt_id ?? '',
    amount_at_risk: a.amount_at_risk, severity: a.severity, result: a.result, message_zh: a.message.zh, message_en: a.message.en,
  }
}

/** Largest amount first (what a reader weighs first), then by id, so a sample is the same on every run. */
function sample(list: Kept[]): AlertBrief[] {
  return [...list].sort((a, b) => compareYuan(b.amount_at_risk, a.amount_at_risk) || a.alert_id.localeCompare(b.alert_id)).slice(0, SAMPLE).map(brief)
}

const amount = (list: Iterable<Kept>): string => sumYuan([...list].map((a) => a.amount_at_risk))

/** Review verdicts on stored alerts of these ids: decided (confirmed) or dismissed (a false positive). */
async function verdicts(store: Store, ids: string[]): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>()
  for (let i = 0; i < ids.length; i += 1000) {
    const rows = await store.query<{ alert_id: string; status: string }>(
      `SELECT alert_id, status FROM ${store.t('alert_status')} FINAL WHERE alert_id IN {ids:Array(String)} AND status IN ('decided', 'dismissed')`, { ids: ids.slice(i, i + 1000) })
    for (const r of rows) out.set(r.alert_id, r.status === 'decided')
  }
  return out
}

function precisionOf(ids: Iterable<string>, v: Map<string, boolean>): { precision: number | null; reviewed: number } {
  let reviewed = 0
  let confirmed = 0
  for (const id of ids) {
    const x = v.get(id)
    if (x === undefined) continue
    reviewed++
    if (x) confirmed++
  }
  return { precision: reviewed ? confirmed / reviewed : null, reviewed }
}

async function diff(store: Store, base: Side, cand: Side, labels: readonly Label[] | undefined, idsOut: DiffIds): Promise<DetectorDiff[]> {
  const B = base.standing()
  const C = cand.standing()
  const v = await verdicts(store, [...new Set([...B.keys(), ...C.keys()])])
  const scored = labels && { base: evaluate([...B.values()], labels), cand: evaluate([...C.values()], labels) }
  const ids = new Set<string>()
  for (const e of [base.engine, cand.engine]) for (const a of e.active) if (a.detector.kind === 'stream') ids.add(a.detector.id)
  for (const m of [B, C]) for (const a of m.values()) ids.add(a.detector.id)
  const out: DetectorDiff[] = []
  for (const id of [...ids].sort()) {
    const b = [...B.values()].filter((a) => a.detector.id === id)
    const c = [...C.values()].filter((a) => a.detector.id === id)
    const added = c.filter((a) => !B.has(a.alert_id))
    const removed = b.filter((a) => !C.has(a.alert_id))
    const changed = c.filter((a) => {
      const x = B.get(a.alert_id)
      return x !== undefined && (x.amount_at_risk !== a.amount_at_risk || x.severity !== a.severity || x.result !== a.result)
    })
    idsOut.set(id, { added: added.map((a) => a.alert_id), removed: removed.map((a) => a.alert_id), changed: changed.map((a) => a.alert_id) })
    const pb = precisionOf(b.map((a) => a.alert_id), v)
    const pc = precisionOf(c.map((a) => a.alert_id), v)
    const pr = (s: ReturnType<typeof evaluate> | undefined) => {
      const x = s?.get(id as never)
      return { precision: x && x.alerts ? x.precision : null, recall: x && x.labels ? x.recall : null }
    }
    out.push({
      detector: id, baseline_mode: modeIn(base.engine, id), candidate_mode: modeIn(cand.engine, id),
      baseline: { alerts: b.length, amount_at_risk: amount(b) }, candidate: { alerts: c.length, amount_at_risk: amount(c) },
      added: { count: added.length, amount_at_risk: amount(added), sample: sample(added) },
      removed: { count: removed.length, amount_at_risk: amount(removed), sample: sample(removed) },
      changed: {
        count: changed.length,
        sample: changed.slice(0, SAMPLE).map((a) => {
          const x = B.get(a.alert_id)!
          return { alert_id: a.alert_id, before: { amount_at_risk: x.amount_at_risk, severity: x.severity, result: x.result }, after: { amount_at_risk: a.amount_at_risk, severity: a.severity, result: a.result } }
        }),
      },
      precision: { baseline: pb.precision, candidate: pc.precision, reviewed_baseline: pb.reviewed, reviewed_candidate: pc.reviewed },
      ...(scored ? { labels: { baseline: pr(scored.base), candidate: pr(scored.cand) } } : {}),
    })
  }
  return out
}

/** A labels file's text (labels.jsonl, one label a line, as `fundwatch generate` writes it). */
export function parseLabels(text: string): Label[] {
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Label)
}
