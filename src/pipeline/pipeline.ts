import { createHash } from 'node:crypto'
import type { Alert } from '../../schemas/index.ts'
import type { DetectEngine, DetectorError } from '../detect/engine.ts'
import type { KnowledgeBase } from '../kb/knowledge-base.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import { prune, resolveChargeBatch } from '../state/apply.ts'
import type { PersonCache } from '../state/cache.ts'
import type { PersonState } from '../state/types.ts'
import { emptyKnown } from '../store/lookups.ts'
import { alertTable } from '../detect/shadow.ts'
import { TABLES, alertRow, dataQualityRow, emptyRows, ingestLine, insertIngest, psnOf, type BatchRows } from '../store/rows.ts'
import type { Store } from '../store/store.ts'
import { DAY_MS, chTime, cnIso } from '../util/time.ts'
import { Admission, checkEvent, contentHash, type Candidate } from './admit.ts'
import { DEFAULT_DECODE, type DecodeOptions } from './decode.ts'
import { DECODERS } from './formats.ts'
import type { AlertSink, DeadLetterOut, DeadLetterSink, Source, SourceBatch, SourceRecord } from './types.ts'

export interface PipelineDeps {
  store: Store
  cache: PersonCache
  metrics: Metrics
  log: Logger
  /** Read once per batch, so a reload takes effect between batches, never inside one. */
  kb: () => KnowledgeBase
  engine: () => DetectEngine
  alertSinks?: AlertSink[]
  deadLetterSinks?: DeadLetterSink[]
  decode?: Partial<DecodeOptions>
  /** Batches decoded and detected ahead of the one being stored. */
  maxInFlight?: number
  retry?: { baseMs: number; maxMs: number }
  now?: () => number
  /** Fault injection for the crash tests: called at each named point with the batch number (PersonCache.begin: in a processor, the Nth batch of the process). */
  fault?: FaultHook
}

export type FaultPoint = 'after-detect' | 'after-store' | 'after-commit' | 'rebalance'
export type FaultHook = (point: FaultPoint, n: number) => void

export interface PreparedBatch {
  seq: number
  batch: SourceBatch
  rows: BatchRows
  /** Every alert the batch raised or revised, live and shadow: where each goes is decided when it is written. */
  alerts: Alert[]
  /** Set by the store step: the alerts written to `alerts` (and published) and to `shadow_alerts` (never published). */
  routed?: { live: Alert[]; shadow: Alert[] }
  deadLetters: DeadLetterOut[]
  /** Detectors skipped for one event of the batch (stored in detector_errors). */
  detectorErrors: DetectorError[]
  events: number
  feeLines: number
  /** Records that held no event by design (a national transaction that is not a fact), by transaction: counted, neither stored nor dead letters. */
  ignored: { infno: string; reason: string }[]
}

export interface RunSummary {
  batches: number
  records: number
  events: number
  feeLines: number
  rejected: number
  /** Live alerts written (and published); shadow ones are counted apart. */
  alerts: number
  shadowAlerts: number
  rejectedByReason: Record<string, number>
  /** Blank lines of a file (empty or whitespace only): skipped, not records, not dead letters. */
  blankLines: number
  /** National transactions that are not facts (pre-settlement, 3101–3103, failed on the platform): no events, no dead letters. */
  ignored: number
}

/**
 * The one pipeline all sources feed. Delivery: a batch's rows go to ClickHouse,
 * then its alerts and dead letters to their sinks, and only then is the source
 * position committed. A failing write is retried with backoff, forever, while
 * the source waits (bounded in-flight work) — never dropped, never committed
 * past. Stored rows carry deterministic ids, so replaying a batch after a crash
 * changes nothing.
 */
export class Pipeline {
  private readonly admission = new Admission()
  private readonly decodeOpts: DecodeOptions
  private readonly now: () => number

  constructor(private readonly d: PipelineDeps) {
    this.decodeOpts = { ...DEFAULT_DECODE, ...d.decode }
    this.now = d.now ?? Date.now
  }

  async run(source: Source, signal: AbortSignal, onBatch?: (p: PreparedBatch, sum: Readonly<RunSummary>) => void): Promise<RunSummary> {
    const sum: RunSummary = { batches: 0, records: 0, events: 0, feeLines: 0, rejected: 0, alerts: 0, shadowAlerts: 0, rejectedByReason: {}, blankLines: 0, ignored: 0 }
    const max = this.d.maxInFlight ?? 2
    const inFlight: Promise<void>[] = []
    let failed: unknown
    // Iterated by hand so that on stop the in-flight batches are stored and
    // committed *before* the source is closed (a Kafka consumer that left the
    // group could no longer commit them).
    const it = source.batches(signal)[Symbol.asyncIterator]()
    try {
      while (!failed && !signal.aborted) {
        const next = await it.next()
        if (next.done) break
        const batch = next.value
        let p: PreparedBatch
        try {
          p = await this.prepare(batch, signal)
        } catch (err) {
          // Stopped while preparing (waiting on the store, or for a batch ahead
          // of it: src/state/cache.ts): this batch is neither stored nor
          // committed, the ones in flight still are, below.
          if (signal.aborted) break
          throw err
        }
        // Persist in order: a later batch's commit must never overtake an earlier one's store.
        const prev = inFlight.at(-1) ?? Promise.resolve()
        const done = prev.then(() => this.persist(p, signal)).then(() => {
          sum.batches++
          sum.records += batch.records.length
          sum.blankLines += batch.blank ?? 0
          sum.events += p.events
          sum.feeLines += p.feeLines
          sum.rejected += p.deadLetters.length
          sum.alerts += p.routed?.live.length ?? 0
          sum.shadowAlerts += p.routed?.shadow.length ?? 0
          sum.ignored += p.ignored.length
          for (const dl of p.deadLetters) sum.rejectedByReason[dl.reason] = (sum.rejectedByReason[dl.reason] ?? 0) + 1
          onBatch?.(p, sum)
        })
        done.catch((e: unknown) => { failed ??= e })
        inFlight.push(done)
        this.d.metrics.inFlightBatches.set(inFlight.length)
        while (inFlight.length >= max) {
          await inFlight[0]!.catch(() => undefined)
          inFlight.shift()
          this.d.metrics.inFlightBatches.set(inFlight.length)
        }
      }
      for (const f of inFlight) await f.catch(() => undefined)
    } finally {
      await it.return?.()
    }
    this.d.metrics.inFlightBatches.set(0)
    if (failed) throw failed
    return sum
  }

  /** Decode, admit, restore state, apply, detect: everything but the writes. */
  async prepare(batch: SourceBatch, signal: AbortSignal = new AbortController().signal): Promise<PreparedBatch> {
    // Numbered by the cache, across the pipelines it serves: its bookkeeping of what is stored is by batch number.
    const seq = this.d.cache.begin()
    const m = this.d.metrics
    const kb = this.d.kb()
    const engine = this.d.engine()
    const now = this.now()
    const t0 = performance.now()
    const rows = emptyRows()
    const deadLetters: DeadLetterOut[] = []
    let candidates: (Candidate & { t: number; rec: SourceRecord; part?: number })[] = []
    const ingestedAt = chTime(now)
    const reject = (rec: SourceRecord, r: { reason: string; detail: string }, part?: number) =>
      deadLetters.push({ dlq_id: dlqId(rec, part), reason: r.reason, detail: part === undefined ? r.detail : `event ${part} of the record: ${r.detail}`, record: rec, received_at: cnIso(now) })
    const ignored: { infno: string; reason: string }[] = []
    for (const rec of batch.records) {
      const r = DECODERS[rec.format ?? 'contract'](rec.value, this.decodeOpts)
      if (!r.ok) {
        reject(rec, r)
        continue
      }
      if (r.ignored) ignored.push(r.ignored)
      // One record may hold several events (a national transaction): each is
      // judged on its own from here, and keeps its record for positions and
      // dead letters. They share the record's bytes, so the same content hash:
      // a record delivered again is a redelivery of every event it holds.
      const sha256 = contentHash(rec.value)
      const several = r.events.length > 1
      for (let i = 0; i < r.events.length; i++) {
        const { event, eventTime } = r.events[i]!
        const part = several ? i + 1 : undefined
        // Sender and values no event can truly have: judged here, before the
        // event can widen the history window loaded for its person.
        const refused = checkEvent(event, rec, kb, this.decodeOpts)
        if (refused) reject(rec, refused, part)
        else candidates.push({ ev: event, t: eventTime, rec, sha256, part })
      }
    }
    const t1 = performance.now()

    const persons = new Map<string, { psn_no: string; owner: string }>()
    let minTime = Infinity
    for (const c of candidates) {
      const psn = psnOf(c.ev)
      if (psn) persons.set(psn, { psn_no: psn, owner: c.rec.owner })
      if (c.t < minTime) minTime = c.t
    }
    // State and what admission must know come from the store: while it is
    // unreachable, wait and retry like a sink.
    let known = emptyKnown()
    await Promise.all([
      this.retry('state', signal, () => this.d.cache.ensure(persons.values(), seq, minTime - engine.lookbackDays * DAY_MS, signal)),
      this.retry('admission', signal, async () => { known = await this.admission.lookup(this.d.store, candidates) }),
    ])
    // A reversal in the earlier form names no person: it is about the person
    // of its visit — stored, admitted in a batch before, or opened earlier in
    // this one. Without a visit to say whose it is, the state could not apply
    // it: refused as unresolved_person, never stored unapplied.
    const unresolved = candidates.filter((c) => c.ev.event_type !== 'inventory.movement' && c.ev.payload.psn_no === '')
    if (unresolved.length > 0) {
      const inBatch = new Map<string, string>()
      const resolved = new Map<string, { psn_no: string; owner: string }>()
      for (const c of candidates) {
        const ev = c.ev
        if (ev.event_type === 'inventory.movement') continue
        const m = ev.payload.mdtrt_id
        if (ev.payload.psn_no !== '') {
          if (!inBatch.has(m)) inBatch.set(m, ev.payload.psn_no)
          continue
        }
        const psn = this.admission.visitOwner(m, known)?.psn_no || inBatch.get(m)
        if (psn) {
          ev.payload.psn_no = psn
          if (!persons.has(psn)) resolved.set(psn, { psn_no: psn, owner: c.rec.owner })
        }
      }
      const still = new Set(unresolved.filter((c) => psnOf(c.ev) === ''))
      for (const c of still) {
        const m = c.ev.event_type === 'inventory.movement' ? '' : c.ev.payload.mdtrt_id
        reject(c.rec, { reason: 'unresolved_person', detail: `${c.ev.event_type} of visit ${m} names no psn_no, and no stored visit says whose it is` }, c.part)
      }
      if (still.size > 0) candidates = candidates.filter((c) => !still.has(c))
      if (resolved.size > 0) await this.retry('state', signal, () => this.d.cache.ensure(resolved.values(), seq, minTime - engine.lookbackDays * DAY_MS, signal))
    }
    const t2 = performance.now()

    const alerts = new Map<string, Alert>()
    const detectorErrors: DetectorError[] = []
    const touched = new Set<PersonState>()
    let events = 0
    let feeLines = 0
    for (const c of candidates) {
      const { ev, t } = c
      const psn = psnOf(ev)
      const person = psn ? this.d.cache.get(psn) : undefined
      // A reversal by charge batch names its lines from the same state, before its rows are built.
      resolveChargeBatch(ev, person)
      // Judged in order, against the state as it stands before this event (src/pipeline/admit.ts).
      const verdict = this.admission.admit(c, person, known, seq)
      if (!verdict.ok) {
        reject(c.rec, verdict, c.part)
        continue
      }
      events++
      rows.ingest.push(ingestLine(ev, t, c.rec.value, (c.rec.format ?? 'contract') === 'contract', c.rec.pos, ingestedAt))
      for (const f of verdict.flags) rows.data_quality.push(dataQualityRow(ev, f, ingestedAt))
      if (ev.event_type === 'fee.uploaded') feeLines += ev.payload.lines.length
      if (person) touched.add(person)
      // The pipeline is the 事中 stage; the pre-check (src/precheck/) takes the same step at 事前.
      engine.step(alerts, { event: ev, eventTime: t, person, stage: 'in', kb, redelivery: verdict.redelivery }, now, m, this.d.log, detectorErrors)
    }
    for (const p of touched) prune(p, engine.lookbackDays)
    const t3 = performance.now()

    for (const a of alerts.values()) rows.alerts.push(alertRow(a, kb.institutions.get(a.subject.fixmedins_code)?.admdvs ?? ''))
    for (const e of detectorErrors) rows.detector_errors.push({ ...e, event_time: chTime(Date.parse(e.event_time)), recorded_at: ingestedAt })
    for (const dl of deadLetters) {
      rows.dead_letters.push({ dlq_id: dl.dlq_id, reason: dl.reason, detail: dl.detail, source: dl.record.pos, received_at: ingestedAt, raw_base64: dl.record.value.toString('base64') })
    }
    m.batchSeconds.observe({ stage: 'decode' }, (t1 - t0) / 1000)
    m.batchSeconds.observe({ stage: 'state' }, (t2 - t1) / 1000)
    m.batchSeconds.observe({ stage: 'detect' }, (t3 - t2) / 1000)
    for (const { id, ms } of engine.takeTimings()) m.detectorBatchSeconds.observe({ detector: id }, ms / 1000)
    this.d.fault?.('after-detect', seq)
    return { seq, batch, rows, alerts: [...alerts.values()], deadLetters, detectorErrors, events, feeLines, ignored }
  }

  /** Store, publish, then commit — retrying each step until it succeeds or the run is aborted. */
  async persist(p: PreparedBatch, signal: AbortSignal): Promise<void> {
    const m = this.d.metrics
    const t0 = performance.now()
    await this.retry('clickhouse', signal, () => this.store(p))
    const routed = p.routed!
    this.admission.markStored(p.seq)
    this.d.fault?.('after-store', p.seq)
    const t1 = performance.now()
    // Shadow alerts are never published: not on the alerts topic, not on the live feed.
    for (const s of this.d.alertSinks ?? []) if (routed.live.length) await this.retry(s.name, signal, () => s.publish(routed.live))
    for (const s of this.d.deadLetterSinks ?? []) if (p.deadLetters.length) await this.retry(s.name, signal, () => s.publish(p.deadLetters))
    if (p.batch.commit) {
      await this.retry('commit', signal, p.batch.commit)
      m.commits.inc()
      this.d.fault?.('after-commit', p.seq)
    }
    m.batchSeconds.observe({ stage: 'store' }, (t1 - t0) / 1000)
    m.batchSeconds.observe({ stage: 'publish' }, (performance.now() - t1) / 1000)
    this.d.cache.trim(p.seq)
    // Counted once stored, so the counters never run ahead of what a reader can find.
    const newest = new Map<string, { event_type: string; eventMs: number }>()
    for (const ev of p.rows.ingest) {
      m.eventsIn.inc({ type: ev.event_type })
      const source = ev.event_type === 'inventory.movement' ? 'inventory' : 'claims'
      if (ev.eventMs > (newest.get(source)?.eventMs ?? -Infinity)) newest.set(source, ev)
    }
    m.recordStoredEvents([...newest.values()].map((ev) => ({ event_type: ev.event_type, event_time: chTime(ev.eventMs) })))
    m.feeLinesIn.inc(p.feeLines)
    for (const dl of p.deadLetters) m.rejected.inc({ reason: dl.reason })
    for (const i of p.ignored) m.nationalIgnored.inc(i)
    for (const f of p.rows.data_quality as { reason: string }[]) m.dataQuality.inc({ reason: f.reason })
    for (const a of routed.live) {
      if (a.status === 'active') m.alerts.inc({ detector: a.detector.id, severity: a.severity })
      else m.alertRevisions.inc({ detector: a.detector.id, status: a.status, reason: a.withdrawn_reason ?? '' })
    }
    for (const a of routed.shadow) if (a.status === 'active') m.shadowAlerts.inc({ detector: a.detector.id })
  }

  /**
   * Writes a batch's rows. Alert rows go to `alerts` or, for a detector the
   * engine in force runs in shadow mode, to `shadow_alerts` — decided here,
   * at the time of writing (src/detect/shadow.ts), on every attempt.
   */
  private async store(p: PreparedBatch): Promise<void> {
    const m = this.d.metrics
    const rows = p.rows
    const engine = this.d.engine()
    const shadowIds = new Set(p.alerts.filter((a) => alertTable(engine, a.detector.id) === 'shadow_alerts').map((a) => a.alert_id))
    const byTable: Record<(typeof TABLES)[number] | 'shadow_alerts', object[]> = {
      dead_letters: rows.dead_letters, detector_errors: rows.detector_errors, data_quality: rows.data_quality,
      alerts: rows.alerts.filter((r) => !shadowIds.has((r as { alert_id: string }).alert_id)),
      shadow_alerts: rows.alerts.filter((r) => shadowIds.has((r as { alert_id: string }).alert_id)),
    }
    const insert = async (table: (typeof TABLES)[number] | 'shadow_alerts') => {
      const r = byTable[table]
      if (r.length === 0) return
      const t0 = performance.now()
      // Timed whether it succeeds or not: in an outage the failing writes are the slow ones.
      try {
        await this.d.store.insert(table, r)
      } finally {
        m.sinkSeconds.observe({ sink: `clickhouse.${table}` }, (performance.now() - t0) / 1000)
      }
      m.sinkBatchRows.observe({ sink: `clickhouse.${table}` }, r.length)
    }
    // Flags before the events they are about: a flag on "a settlement of an
    // unknown visit" cannot be derived again once that settlement is stored
    // (it made the visit known), so a crash between the two must not leave
    // the event without its flag. The other way round, the redelivery writes
    // the same flag again.
    await insert('data_quality')
    // Admitted events go in as the bytes received; the ingest views build `events` and the typed tables.
    const ingest = async () => {
      if (rows.ingest.length === 0) return
      const t0 = performance.now()
      try {
        await insertIngest(this.d.store, rows.ingest)
      } finally {
        m.sinkSeconds.observe({ sink: 'clickhouse.ingest' }, (performance.now() - t0) / 1000)
      }
      m.sinkBatchRows.observe({ sink: 'clickhouse.ingest' }, rows.ingest.length)
    }
    await Promise.all([ingest(), ...[...TABLES.filter((t) => t !== 'data_quality'), 'shadow_alerts' as const].map(insert)])
    // A rule change that promoted a detector while its shadow rows were being
    // written: the promotion (putInForce, src/detect/rulebase-store.ts) may have read shadow_alerts before
    // they landed, so they are copied live here — same rows, so a copy both
    // made collapses into one.
    const after = this.d.engine()
    const late = after === engine ? [] : byTable.shadow_alerts.filter((r) => alertTable(after, (r as { detector_id: string }).detector_id) === 'alerts'
      && after.active.some((a) => a.detector.id === (r as { detector_id: string }).detector_id))
    if (late.length) await this.d.store.insert('alerts', late)
    const lateIds = new Set(late.map((r) => (r as { alert_id: string }).alert_id))
    p.routed = {
      live: p.alerts.filter((a) => !shadowIds.has(a.alert_id)),
      shadow: p.alerts.filter((a) => shadowIds.has(a.alert_id) && !lateIds.has(a.alert_id)),
    }
  }

  private async retry(sink: string, signal: AbortSignal, fn: () => Promise<void>): Promise<void> {
    const { baseMs, maxMs } = this.d.retry ?? { baseMs: 100, maxMs: 10_000 }
    for (let attempt = 0; ; attempt++) {
      try {
        await fn()
        return
      } catch (err) {
        if (signal.aborted) throw err
        this.d.metrics.sinkRetries.inc({ sink })
        const wait = Math.min(maxMs, baseMs * 2 ** attempt) * (0.5 + Math.random() / 2)
        this.d.log.warn({ err, sink, attempt, wait_ms: Math.round(wait) }, 'sink write failed; retrying, nothing committed')
        await sleep(wait, signal)
      }
    }
  }
}

/**
 * A dead letter's id: where the record sat, in full (a file's absolute path and
 * line, or topic/partition/offset), and what it held (a hash of its bytes). A
 * replay of the same record rewrites the same row; a different record — another
 * file of the same name, a rewritten line — never overwrites it. `part` names
 * the event (1, 2, …) when the record held several and one of them is refused
 * on its own: each refusal is its own dead letter.
 */
export function dlqId(rec: Pick<SourceRecord, 'pos' | 'value'>, part?: number): string {
  const content = createHash('sha256').update(rec.value).digest('hex')
  const h = createHash('sha256').update(rec.pos).update('\n').update(content)
  if (part !== undefined) h.update(`\n${part}`)
  return h.digest('hex').slice(0, 32)
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = () => { clearTimeout(t); reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
