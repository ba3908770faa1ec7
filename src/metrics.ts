import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * All metrics, on a registry of their own (never prom-client's global one), so
 * a test can build a Metrics, run something and read exactly what it counted.
 * Names are prefixed fundwatch_.
 */
export class Metrics {
  readonly registry = new Registry()
  readonly eventsIn: Counter<'type'>
  readonly feeLinesIn: Counter
  readonly rejected: Counter<'reason'>
  readonly dataQuality: Counter<'reason'>
  readonly alerts: Counter<'detector' | 'severity'>
  readonly detectorErrors: Counter<'detector' | 'kind'>
  readonly degradedAlerts: Counter
  readonly detectorBatchSeconds: Histogram<'detector'>
  readonly sinkBatchRows: Histogram<'sink'>
  readonly sinkSeconds: Histogram<'sink'>
  readonly sinkRetries: Counter<'sink'>
  readonly batchSeconds: Histogram<'stage'>
  readonly stateLoads: Counter
  readonly statePersons: Gauge
  readonly inFlightBatches: Gauge
  readonly consumerLag: Gauge<'topic' | 'partition'>
  readonly rebalances: Counter
  readonly commits: Counter
  readonly dlqRecords: Counter<'reason'>
  readonly ruleReloads: Counter<'outcome'>
  readonly precheckSeconds: Histogram<'outcome'>

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry
    if (opts.defaultMetrics) collectDefaultMetrics({ register: r, prefix: 'fundwatch_process_' })
    this.eventsIn = new Counter({ name: 'fundwatch_events_in_total', help: 'Valid events processed, by event type', labelNames: ['type'], registers: [r] })
    this.feeLinesIn = new Counter({ name: 'fundwatch_fee_lines_in_total', help: 'Fee lines processed', registers: [r] })
    this.rejected = new Counter({ name: 'fundwatch_events_rejected_total', help: 'Records rejected to the dead-letter sink, by reason', labelNames: ['reason'], registers: [r] })
    this.dataQuality = new Counter({ name: 'fundwatch_data_quality_total', help: 'Events stored but flagged in the data_quality table (they name facts never received), by reason', labelNames: ['reason'], registers: [r] })
    this.alerts = new Counter({ name: 'fundwatch_alerts_total', help: 'Alerts raised, by detector and severity', labelNames: ['detector', 'severity'], registers: [r] })
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
    this.inFlightBatches = new Gauge({ name: 'fundwatch_in_flight_batches', help: 'Batches processed but not yet stored and committed', registers: [r] })
    this.consumerLag = new Gauge({ name: 'fundwatch_consumer_lag', help: 'Kafka consumer lag in records', labelNames: ['topic', 'partition'], registers: [r] })
    this.rebalances = new Counter({ name: 'fundwatch_rebalances_total', help: 'Consumer group rebalances seen', registers: [r] })
    this.commits = new Counter({ name: 'fundwatch_offset_commits_total', help: 'Offset commits after stored batches', registers: [r] })
    this.dlqRecords = new Counter({ name: 'fundwatch_dlq_records_total', help: 'Records written to the DLQ, by reason', labelNames: ['reason'], registers: [r] })
    this.precheckSeconds = new Histogram({ name: 'fundwatch_precheck_seconds', help: 'Pre-check (事前) requests by outcome (findings, clean)', labelNames: ['outcome'], registers: [r], buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] })
    this.ruleReloads = new Counter({ name: 'fundwatch_rulebase_reloads_total', help: 'Rule-base reloads by outcome', labelNames: ['outcome'], registers: [r] })
  }
}
