import { readFileSync } from 'node:fs'
import { getHeapStatistics } from 'node:v8'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { EVENT_TYPES, Severity, WithdrawnReason } from '../schemas/index.ts'

/**
 * All metrics, on a registry of their own (never prom-client's global one), so
 * a test can build a Metrics, run something and read exactly what it counted.
 * Our names are prefixed fundwatch_; Node's default process metrics keep
 * their standard names (process_*, nodejs_*) so community dashboards and
 * `promtool check metrics` accept them.
 */
export class Metrics {
  readonly registry = new Registry()
  readonly eventsIn: Counter<'type'>
  readonly feeLinesIn: Counter
  readonly rejected: Counter<'reason'>
  readonly nationalIgnored: Counter<'infno' | 'reason'>
  readonly dataQuality: Counter<'reason'>
  readonly alerts: Counter<'detector' | 'severity'>
  readonly shadowAlerts: Counter<'detector'>
  readonly precheckShadowFindings: Counter<'detector'>
  readonly alertRevisions: Counter<'detector' | 'status' | 'reason'>
  readonly detectorErrors: Counter<'detector' | 'kind'>
  readonly degradedAlerts: Counter
  readonly detectorBatchSeconds: Histogram<'detector'>
  readonly sinkBatchRows: Histogram<'sink'>
  readonly sinkSeconds: Histogram<'sink'>
  readonly sinkRetries: Counter<'sink'>
  readonly batchSeconds: Histogram<'stage'>
  readonly stateLoads: Counter
  readonly statePersons: Gauge
  readonly stateBytes: Gauge
  readonly stateEvictions: Counter
  readonly inFlightBatches: Gauge
  readonly consumerLag: Gauge<'topic' | 'partition'>
  readonly rebalances: Counter
  readonly commits: Counter
  readonly dlqRecords: Counter<'reason'>
  readonly ruleReloads: Counter<'outcome'>
  readonly ruleBaseInfo: Gauge<'hash'>
  readonly precheckSeconds: Histogram<'outcome'>
  readonly nationalFeedback: Counter<'detector' | 'dspo_way'>
  // --- operations (issue 12): HTTP, audit runs, freshness, build, memory ---
  readonly httpSeconds: Histogram<'method' | 'route' | 'status_class'>
  readonly auditLastRun: Gauge
  readonly auditLastSuccess: Gauge
  readonly auditSeconds: Gauge
  readonly auditFindings: Gauge<'detector'>
  readonly auditFailures: Gauge
  readonly newestEventTime: Gauge<'source'>
  readonly buildInfo: Gauge<'version' | 'commit' | 'node'>

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry
    if (opts.defaultMetrics) {
      collectDefaultMetrics({ register: r })
      // Gauges named _total break `promtool check metrics` (a _total is a
      // counter); nodejs_active_{handles,requests,resources}{type} carry the same numbers by type.
      for (const n of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) r.removeSingleMetric(n)
    }
    this.eventsIn = new Counter({ name: 'fundwatch_events_in_total', help: 'Valid events processed, by event type', labelNames: ['type'], registers: [r] })
    this.feeLinesIn = new Counter({ name: 'fundwatch_fee_lines_in_total', help: 'Fee lines processed', registers: [r] })
    this.rejected = new Counter({ name: 'fundwatch_events_rejected_total', help: 'Records rejected to the dead-letter sink, by reason', labelNames: ['reason'], registers: [r] })
    this.nationalIgnored = new Counter({
      name: 'fundwatch_national_ignored_total', help: 'National transactions taken but holding no fact (pre-settlement 2206/2303, 3101–3103; reason failed: the platform answered infcode ≠ 0), by infno',
      labelNames: ['infno', 'reason'], registers: [r],
    })
    this.dataQuality = new Counter({ name: 'fundwatch_data_quality_total', help: 'Events stored but flagged in the data_quality table (they name facts never received), by reason', labelNames: ['reason'], registers: [r] })
    this.alerts = new Counter({ name: 'fundwatch_alerts_total', help: 'Alerts raised (revision 1), by detector and severity', labelNames: ['detector', 'severity'], registers: [r] })
    this.shadowAlerts = new Counter({ name: 'fundwatch_shadow_alerts_total', help: 'Alerts of detectors in shadow mode written to shadow_alerts (active revisions), by detector; never in fundwatch_alerts_total', labelNames: ['detector'], registers: [r] })
    this.precheckShadowFindings = new Counter({ name: 'fundwatch_precheck_shadow_findings_total', help: 'Pre-check (3101/3102 and /precheck) findings of detectors in shadow mode, left out of the answer: what they would have told the institution', labelNames: ['detector'], registers: [r] })
    this.alertRevisions = new Counter({
      name: 'fundwatch_alert_revisions_total', help: 'Alerts revised by later facts: status updated, or withdrawn with its reason (reversed, reconciled_at_discharge, superseded)',
      labelNames: ['detector', 'status', 'reason'], registers: [r],
    })
    this.degradedAlerts = new Counter({ name: 'fundwatch_api_degraded_alerts_total', help: 'Stored alerts answered degraded because they do not fit the response schema (each is logged with its id)', registers: [r] })
    this.detectorErrors = new Counter({ name: 'fundwatch_detector_errors_total', help: 'Detector calls skipped for one event: threw, or over the time budget (kind); the event goes on without that detector', labelNames: ['detector', 'kind'], registers: [r] })
    // Per batch, not per call: a histogram observation per event per detector
    // would cost more than most detectors do.
    this.detectorBatchSeconds = new Histogram({
      name: 'fundwatch_detector_batch_seconds', help: 'Time a detector spent on one batch', labelNames: ['detector'], registers: [r],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    })
    this.sinkBatchRows = new Histogram({ name: 'fundwatch_sink_batch_rows', help: 'Rows per sink write', labelNames: ['sink'], registers: [r], buckets: [1, 10, 100, 1000, 5000, 20000, 100000] })
    this.sinkSeconds = new Histogram({ name: 'fundwatch_sink_write_seconds', help: 'Sink write latency', labelNames: ['sink'], registers: [r], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] })
    this.sinkRetries = new Counter({ name: 'fundwatch_sink_retries_total', help: 'Sink writes retried after a failure', labelNames: ['sink'], registers: [r] })
    this.batchSeconds = new Histogram({ name: 'fundwatch_batch_seconds', help: 'Batch time by stage (decode, state, detect, store, publish)', labelNames: ['stage'], registers: [r], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] })
    this.stateLoads = new Counter({ name: 'fundwatch_state_loads_total', help: 'Persons whose state was loaded from ClickHouse on a cache miss', registers: [r] })
    this.statePersons = new Gauge({ name: 'fundwatch_state_persons', help: 'Persons held in the state cache', registers: [r] })
    this.stateBytes = new Gauge({ name: 'fundwatch_state_bytes', help: 'Estimated heap bytes of the persons held in the state cache (bounded by FUNDWATCH_STATE_MAX_MB)', registers: [r] })
    this.stateEvictions = new Counter({ name: 'fundwatch_state_evictions_total', help: 'Persons evicted from the state cache, least recently touched first', registers: [r] })
    this.inFlightBatches = new Gauge({ name: 'fundwatch_in_flight_batches', help: 'Batches processed but not yet stored and committed', registers: [r] })
    this.consumerLag = new Gauge({ name: 'fundwatch_consumer_lag', help: 'Kafka consumer lag in records', labelNames: ['topic', 'partition'], registers: [r] })
    this.rebalances = new Counter({ name: 'fundwatch_rebalances_total', help: 'Consumer group rebalances seen', registers: [r] })
    this.commits = new Counter({ name: 'fundwatch_offset_commits_total', help: 'Offset commits after stored batches', registers: [r] })
    this.dlqRecords = new Counter({ name: 'fundwatch_dlq_records_total', help: 'Records written to the DLQ, by reason', labelNames: ['reason'], registers: [r] })
    // Up to 10 s: in an outage the p99 must be able to read above the 1 s that
    // HIS systems time out at, not saturate at the top bucket.
    this.precheckSeconds = new Histogram({ name: 'fundwatch_precheck_seconds', help: 'Pre-check (事前) requests by outcome (findings, clean, refused = 4xx, error = 5xx)', labelNames: ['outcome'], registers: [r], buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] })
    this.nationalFeedback = new Counter({
      name: 'fundwatch_national_feedback_total', help: 'Institutions\' 3103 answers to warnings recorded (re-sends not counted), by detector and dspo_way (1 继续执行, 2 返回修改)',
      labelNames: ['detector', 'dspo_way'], registers: [r],
    })
    this.ruleReloads = new Counter({ name: 'fundwatch_rulebase_reloads_total', help: 'Rule-base reloads by outcome', labelNames: ['outcome'], registers: [r] })
    // One series: the version this process runs (hash "" = none recorded, every detector with defaults). Replicas that disagree for longer than a poll interval show as two hashes.
    this.ruleBaseInfo = new Gauge({ name: 'fundwatch_rulebase_info', help: 'Always 1; the hash label names the rule-base version in force in this process', labelNames: ['hash'], registers: [r] })

    // --- operations (issue 12) ---
    // By route template (never the raw URL: ids would explode the label set).
    this.httpSeconds = new Histogram({
      name: 'fundwatch_http_request_duration_seconds', help: 'HTTP requests answered, by method, route template and status class (2xx … 5xx); _count is the request count',
      labelNames: ['method', 'route', 'status_class'], registers: [r], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    })
    // Audit (事后) runs: gauges of the last run, so a short-lived CronJob can push them (see docs/operations.md).
    // Registered on the main registry only once a run is recorded: a role that
    // never audits must not export a last-success time of 0 (AuditNotRun would fire everywhere).
    this.auditLastRun = new Gauge({ name: 'fundwatch_audit_last_run_timestamp_seconds', help: 'When the last audit run finished (Unix seconds)', registers: [] })
    this.auditLastSuccess = new Gauge({ name: 'fundwatch_audit_last_success_timestamp_seconds', help: 'When the last audit run in which every detector succeeded finished (Unix seconds)', registers: [] })
    this.auditSeconds = new Gauge({ name: 'fundwatch_audit_duration_seconds', help: 'Duration of the last audit run', registers: [] })
    this.auditFindings = new Gauge({ name: 'fundwatch_audit_findings', help: 'Alerts the last audit run stored, by detector', labelNames: ['detector'], registers: [] })
    this.auditFailures = new Gauge({ name: 'fundwatch_audit_failed_detectors', help: 'Audit detectors that failed in the last run (every one when the run failed as a whole)', registers: [] })
    // A timestamp, not an age: Prometheus computes time() - it, so the value stays right between scrapes and after the process stops.
    this.newestEventTime = new Gauge({ name: 'fundwatch_newest_event_timestamp_seconds', help: 'Event time of the newest event stored, by source (Unix seconds); freshness is time() minus this', labelNames: ['source'], registers: [r] })
    this.buildInfo = new Gauge({ name: 'fundwatch_build_info', help: 'Always 1; labels name the running build', labelNames: ['version', 'commit', 'node'], registers: [r] })
    this.buildInfo.set({ version: VERSION, commit: process.env.FUNDWATCH_COMMIT || 'unknown', node: process.version }, 1)
    // What V8 lets the heap grow to: the limit the process dies at, whatever the container allows.
    new Gauge({ name: 'fundwatch_heap_limit_bytes', help: 'V8 heap size limit (--max-old-space-size or its default)', registers: [r] }).set(getHeapStatistics().heap_size_limit)
    this.initLabels({})
  }

  /**
   * Event-time freshness: the newest event time stored, per source stream
   * (claims, inventory: the two input topics of the contract). Rows carry
   * event_time as ClickHouse DateTime64 text in UTC.
   */
  recordStoredEvents(rows: readonly { event_type: string; event_time: string }[]): void {
    const newest = new Map<string, number>()
    for (const r of rows) {
      const source = r.event_type === 'inventory.movement' ? 'inventory' : 'claims'
      const t = Date.parse(`${r.event_time.replace(' ', 'T')}Z`)
      if (t > (newest.get(source) ?? -Infinity)) newest.set(source, t)
    }
    for (const [source, t] of newest) {
      const current = this.newestEventTimeMs.get(source) ?? -Infinity
      if (t > current) {
        this.newestEventTimeMs.set(source, t)
        this.newestEventTime.set({ source }, t / 1000)
      }
    }
  }

  private readonly newestEventTimeMs = new Map<string, number>()
  private readonly auditRegistered = new Set<Gauge<string>>()
  private lastAuditFailed = false

  /** Records one audit (事后) run; the gauges join this registry with the first run. */
  recordAudit(run: { endedAt: number; seconds: number; findings: Record<string, number>; failed: number }): void {
    for (const g of [this.auditLastRun, this.auditSeconds, this.auditFindings, this.auditFailures, ...(run.failed === 0 ? [this.auditLastSuccess] : [])]) {
      if (this.auditRegistered.has(g)) continue
      this.auditRegistered.add(g)
      this.registry.registerMetric(g)
    }
    this.auditLastRun.set(run.endedAt / 1000)
    this.auditSeconds.set(run.seconds)
    this.auditFindings.reset()
    for (const [detector, n] of Object.entries(run.findings)) this.auditFindings.set({ detector }, n)
    this.auditFailures.set(run.failed)
    if (run.failed === 0) this.auditLastSuccess.set(run.endedAt / 1000)
    this.lastAuditFailed = run.failed > 0
  }

  /**
   * What a short-lived `fundwatch audit` pushes to a Pushgateway after its run:
   * the audit gauges, with the last-success time only when that run succeeded,
   * so a failed run never overwrites the previous success (pushAdd replaces by name).
   */
  auditPushRegistry(): Registry {
    const push = new Registry()
    for (const g of [this.auditLastRun, this.auditSeconds, this.auditFindings, this.auditFailures, ...(this.lastAuditFailed ? [] : [this.auditLastSuccess])]) push.registerMetric(g)
    return push
  }

  /** Every metric this process can export, registered or not yet (the audit gauges): for tests that check names. */
  allMetricNames(): string[] {
    const audit = new Registry()
    for (const g of [this.auditLastRun, this.auditLastSuccess, this.auditSeconds, this.auditFindings, this.auditFailures]) audit.registerMetric(g)
    return [...this.registry.getMetricsAsArray(), ...audit.getMetricsAsArray()].map((m) => (m as unknown as { name: string }).name)
  }

  /**
   * Creates every labelled counter's series at 0 for each label value known
   * up front. A series that first appears at 1 has no earlier sample, so
   * increase() reads 0 and an alert on the first error never fires.
   */
  initLabels(known: { detectors?: readonly string[] }): void {
    for (const type of EVENT_TYPES) this.eventsIn.inc({ type }, 0)
    for (const outcome of ['applied', 'invalid']) this.ruleReloads.inc({ outcome }, 0)
    for (const sink of SINKS) this.sinkRetries.inc({ sink }, 0)
    for (const outcome of ['findings', 'clean', 'refused', 'error']) this.precheckSeconds.zero({ outcome })
    for (const detector of known.detectors ?? []) {
      for (const kind of ['threw', 'over_budget']) this.detectorErrors.inc({ detector, kind }, 0)
      for (const severity of Severity.options) this.alerts.inc({ detector, severity }, 0)
      this.shadowAlerts.inc({ detector }, 0)
      this.precheckShadowFindings.inc({ detector }, 0)
      this.alertRevisions.inc({ detector, status: 'updated', reason: '' }, 0)
      for (const dspo_way of ['1', '2']) this.nationalFeedback.inc({ detector, dspo_way }, 0)
      for (const reason of WithdrawnReason.options) this.alertRevisions.inc({ detector, status: 'withdrawn', reason }, 0)
    }
  }
}

/** Sinks the pipeline retries by name (src/pipeline/pipeline.ts, src/kafka/sinks.ts). */
const SINKS = ['clickhouse', 'state', 'admission', 'commit', 'kafka.alerts', 'kafka.dlq', 'live-feed'] as const

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
