import type { Alert, AnyEvent } from '../../schemas/index.ts'
import type { DecodeFailure } from './decode.ts'

/**
 * What a record's bytes are: a contract event (CONTRACT.md), or a national
 * platform transaction as logged (docs/national.md). The source says which —
 * the Kafka topic it came from, or `replay --format`.
 */
export const SOURCE_FORMATS = ['contract', 'national'] as const
export type SourceFormat = (typeof SOURCE_FORMATS)[number]

/** One event a record decoded to, validated against the contract. */
export interface DecodedEvent {
  event: AnyEvent
  eventTime: number
}

/**
 * A record decoded: the contract events it holds, in order — one for a
 * contract record, any number for a national transaction (none for one that
 * is not a fact, e.g. a pre-settlement: `ignored` says why) — or the reason
 * the whole record is refused. `text` is the record as received, stored as
 * the raw form of each of its events.
 */
export type DecodedRecord =
  | { ok: true; events: DecodedEvent[]; text: string; ignored?: { infno: string; reason: string } }
  | DecodeFailure

/** One record as a source delivers it: the original bytes and where they came from. */
export interface SourceRecord {
  value: Buffer
  /** Stable position in full, e.g. "fundwatch.claims.v1/3/1042" or "/data/export/claims.jsonl:17": the dead-letter id derives from it and the bytes. */
  pos: string
  /** Who owns the record's person state, e.g. "fundwatch.claims.v1/3"; state is dropped per owner on a rebalance. */
  owner: string
  key?: string | null
  headers?: Record<string, string>
  /** How to read the bytes; unset = a contract event. */
  format?: SourceFormat
  /**
   * The institution (fixmedins_code) the transport authenticated as the
   * producer — e.g. the Kafka SASL principal, mapped to its institution — when
   * it knows one. Admission then requires the envelope's source.fixmedins_code
   * to be this institution (docs/admission.md). Unset: the envelope's source is
   * the sender.
   */
  sender?: string
}

export interface SourceBatch {
  records: SourceRecord[]
  /** Blank lines (empty or whitespace only) a file source skipped while reading this batch: not records, counted. */
  blank?: number
  /** Called only after the batch is stored and published: commits the source position (Kafka offsets). */
  commit?: () => Promise<void>
}

/**
 * How long a live source (Kafka, the paced generator) lets the first record of
 * a batch wait for more before handing the batch over, unless a size bound is
 * reached first (FUNDWATCH_BATCH_LINGER_MS). A batch has a fixed cost — the
 * state and admission queries, the inserts, a commit — so at a trickle one
 * batch per record or per fetch is the worst case. 100 ms bounds what the
 * linger adds to event → alert latency. Measured (bench `trickle`, 2 cores):
 * a batch still costs ~150 ms of CPU, mostly inside chDB, so at 300 events/s
 * the processor runs at ~70% of a core whatever the linger, and the rest of
 * the path takes ~175 ms a batch: the p99 < 250 ms goal is not met yet, and
 * a longer linger would trade latency for CPU (docs/operations.md).
 */
export const DEFAULT_BATCH_LINGER_MS = 100

/** Kafka, a file, or the generator: the pipeline does not know which. */
export interface Source {
  readonly name: string
  batches(signal: AbortSignal): AsyncIterable<SourceBatch>
}

export interface DeadLetterOut {
  dlq_id: string
  reason: string
  detail: string
  record: SourceRecord
  received_at: string
}

/** Downstream of the store: the alerts topic, the live feed. Must be idempotent per alert_id. */
export interface AlertSink {
  readonly name: string
  publish(alerts: readonly Alert[]): Promise<void>
}

export interface DeadLetterSink {
  readonly name: string
  publish(records: readonly DeadLetterOut[]): Promise<void>
}
