import { createHash } from 'node:crypto'
import type { Alert, AnyEvent } from '../../schemas/index.ts'
import { money } from '../util/money.ts'
import { chTime } from '../util/time.ts'
import { INGEST_COLUMNS } from './migrations.ts'
import type { Store } from './store.ts'

/**
 * What one batch writes, by table. Admitted events go to `ingest` as the bytes
 * received (one TabSeparated line each, ingestLine); ClickHouse's views build
 * `events` and the typed tables from them (src/store/migrations.ts, migration
 * 14). Row objects are built only for what the pipeline computes.
 */
export interface BatchRows {
  ingest: IngestLine[]
  alerts: object[]
  dead_letters: object[]
  data_quality: object[]
  detector_errors: object[]
}

/** One admitted event on its way to the `ingest` table. */
export interface IngestLine {
  event_type: string
  /** The event's time, epoch ms (for the freshness metric). */
  eventMs: number
  /**
   * The TabSeparated line, newline included, in three pieces: the fields
   * before `raw`, `raw` itself as bytes (the record as received, TSV-escaped
   * only if it must be), and the fields after it. insertIngest writes them
   * into one buffer, so the received bytes are never decoded and encoded
   * again on their way to the store.
   */
  head: string
  raw: Buffer
  tail: string
}

/** The tables written with row objects (ingest is written as lines, insertIngest). */
export const TABLES = ['dead_letters', 'detector_errors', 'alerts', 'data_quality'] as const satisfies readonly (keyof BatchRows)[]

export function emptyRows(): BatchRows {
  return { ingest: [], alerts: [], dead_letters: [], data_quality: [], detector_errors: [] }
}

const ts = (iso: string): string => chTime(Date.parse(iso))

/** The person an event is about, when it names one (claims are keyed by psn_no). */
export function psnOf(ev: AnyEvent): string {
  return ev.event_type === 'inventory.movement' ? '' : (ev.payload.psn_no ?? '')
}

/** TabSeparated escaping (ClickHouse's): backslash, tab, newline, carriage return. */
const TSV_SPECIAL = /[\\\t\n\r]/
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }
export function tsv(s: string): string {
  return TSV_SPECIAL.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => TSV_ESCAPES[c]!) : s
}

/** Bytes TabSeparated must escape: backslash, tab, newline, carriage return. */
const TSV_BYTES = [0x5c, 0x09, 0x0a, 0x0d] as const

/**
 * `raw` TSV-escaped as bytes: the same buffer when it holds no byte to escape
 * — the common case, JSON escapes no character it does not have to — else
 * escaped through its text.
 */
export function tsvBytes(raw: Buffer): Buffer {
  for (const b of TSV_BYTES) if (raw.indexOf(b) !== -1) return Buffer.from(tsv(raw.toString('utf8')))
  return raw
}

/**
 * The `ingest` line of one admitted event: its id and type, the person it is
 * about (as admission resolved it), the lines a reversal withdraws (as
 * resolved from a charge batch), where it came from, when it arrived, the
 * bytes received (`raw`, stored in events.raw as they are), and `doc` — the
 * contract event as JSON when `raw` is not it (a national transaction), else ''.
 */
export function ingestLine(ev: AnyEvent, eventMs: number, raw: Buffer | string, rawIsContract: boolean, sourcePos: string, ingestedAt: string): IngestLine {
  // Ids are checked printable ASCII (no tab, newline or backslash); line ids are [0-9A-Za-z_-].
  const sns = ev.event_type === 'fee.reversed' ? (ev.payload.feedetl_sns ?? []) : []
  const list = sns.length === 0 ? '[]' : `['${sns.join("','")}']`
  const doc = rawIsContract ? '' : tsv(JSON.stringify(ev))
  return {
    event_type: ev.event_type, eventMs,
    head: `${tsv(ev.event_id)}\t${ev.event_type}\t${psnOf(ev)}\t${list}\t${tsv(sourcePos)}\t${ingestedAt}\t`,
    raw: tsvBytes(typeof raw === 'string' ? Buffer.from(raw) : raw),
    tail: `\t${doc}\n`,
  }
}

/** The lines as one TabSeparated body: the pieces copied once into one buffer. */
export function ingestBody(lines: readonly IngestLine[]): Buffer {
  let size = 0
  for (const l of lines) size += Buffer.byteLength(l.head) + l.raw.length + Buffer.byteLength(l.tail)
  const body = Buffer.allocUnsafe(size)
  let at = 0
  for (const l of lines) {
    at += body.write(l.head, at)
    at += l.raw.copy(body, at)
    at += body.write(l.tail, at)
  }
  return body
}

/** Writes admitted events to `ingest` (and so, through its views, to `events` and the typed tables). */
export async function insertIngest(store: Store, lines: readonly IngestLine[]): Promise<void> {
  if (lines.length === 0) return
  await store.insertText('ingest', ingestBody(lines), 'TabSeparated', INGEST_COLUMNS)
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
