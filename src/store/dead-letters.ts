import { isUtf8 } from 'node:buffer'
import { chTime, cnIso, fromChTime } from '../util/time.ts'
import type { Store } from './store.ts'

/**
 * The dead_letters table read back for operators (`fundwatch dlq`, the admin
 * API): reason counts over time, one record with its raw bytes, an export.
 */
export interface DeadLetterFilter {
  /** Epoch ms, inclusive. */
  from?: number
  /** Epoch ms, exclusive. */
  to?: number
  reason?: string
  /** Where the record sat: a prefix of `source` (a topic, topic/partition, a file path). */
  source?: string
  /**
   * Only records whose envelope names one of these institutions
   * (`source.fixmedins_code`, read from the raw bytes): records that do not
   * parse, or name none, are left out. Undefined = every record.
   */
  institutions?: readonly string[]
}

/** A position in the newest-first order: the page after it starts below it. */
export interface DeadLetterCursor {
  /** Epoch ms. */
  received_at: number
  dlq_id: string
}

export interface DeadLetterRecord {
  dlq_id: string
  reason: string
  /** The validation message: every problem found, one a line (at most ten). */
  detail: string
  /** topic/partition/offset, file:line, or resubmit:<dlq_id>. */
  source: string
  /** RFC 3339, China time, to the second. */
  received_at: string
  /** The same instant in epoch ms, exact (received_at drops the milliseconds): what a page cursor holds. */
  received_ms: number
  raw_base64: string
  /** The raw bytes as text when they are valid UTF-8. */
  raw_text?: string
  /** The institution the envelope names, when the record parses far enough to name one. */
  fixmedins_code?: string
}

/**
 * The institution a raw record's envelope names, read by the store from the
 * bytes as they arrived ('' when they are not JSON or name none). The same
 * expression filters and reports, so what a scope lets through and what a
 * record says it is from cannot disagree.
 */
const INSTITUTION = `JSONExtractString(base64Decode(raw_base64), 'source', 'fixmedins_code')`
// received_at is read as text under another name: an alias named like the
// column would replace the column in WHERE (ClickHouse resolves aliases there),
// and a time filter would compare text with a time.
const COLUMNS = `dlq_id, reason, detail, source, toString(received_at) AS received_text, raw_base64, ${INSTITUTION} AS fixmedins_code`

function where(f: DeadLetterFilter): { sql: string; params: Record<string, unknown> } {
  const parts: string[] = []
  const params: Record<string, unknown> = {}
  if (f.from !== undefined) {
    parts.push('received_at >= {from:DateTime64(3)}')
    params.from = chTime(f.from)
  }
  if (f.to !== undefined) {
    parts.push('received_at < {to:DateTime64(3)}')
    params.to = chTime(f.to)
  }
  if (f.reason) {
    parts.push('reason = {reason:String}')
    params.reason = f.reason
  }
  if (f.source) {
    parts.push('startsWith(source, {source:String})')
    params.source = f.source
  }
  if (f.institutions) {
    parts.push(`has({institutions:Array(String)}, ${INSTITUTION})`)
    params.institutions = [...f.institutions]
  }
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params }
}

/** Dead letters per China day and reason, oldest day first. */
export async function deadLetterCounts(store: Store, f: DeadLetterFilter = {}): Promise<{ day: string; reason: string; count: number }[]> {
  const w = where(f)
  const rows = await store.query<{ day: string; reason: string; n: string }>(
    `SELECT toString(toDate(received_at, 'Asia/Shanghai')) AS day, reason, count() AS n FROM ${store.t('dead_letters')} FINAL ${w.sql} GROUP BY day, reason ORDER BY day, n DESC, reason`, w.params)
  return rows.map((r) => ({ day: r.day, reason: r.reason, count: Number(r.n) }))
}

function record(r: { dlq_id: string; reason: string; detail: string; source: string; received_text: string; raw_base64: string; fixmedins_code: string }): DeadLetterRecord {
  const raw = Buffer.from(r.raw_base64, 'base64')
  return {
    dlq_id: r.dlq_id, reason: r.reason, detail: r.detail, source: r.source, received_at: cnIso(fromChTime(r.received_text)), received_ms: fromChTime(r.received_text), raw_base64: r.raw_base64,
    ...(isUtf8(raw) ? { raw_text: raw.toString('utf8') } : {}), ...(r.fixmedins_code ? { fixmedins_code: r.fixmedins_code } : {}),
  }
}

/** Newest first (ties by dlq_id, descending), at most `limit`; with `after` the page that follows that position. */
export async function listDeadLetters(store: Store, f: DeadLetterFilter & { limit: number; after?: DeadLetterCursor }): Promise<DeadLetterRecord[]> {
  const w = where(f)
  const params: Record<string, unknown> = { ...w.params, limit: f.limit }
  let sql = w.sql
  if (f.after) {
    sql = `${sql ? `${sql} AND` : 'WHERE'} (received_at, dlq_id) < ({after_at:DateTime64(3)}, {after_id:String})`
    Object.assign(params, { after_at: chTime(f.after.received_at), after_id: f.after.dlq_id })
  }
  const rows = await store.query<Parameters<typeof record>[0]>(
    `SELECT ${COLUMNS} FROM ${store.t('dead_letters')} FINAL ${sql} ORDER BY received_at DESC, dlq_id DESC LIMIT {limit:UInt32}`, params)
  return rows.map(record)
}

export async function getDeadLetter(store: Store, dlqId: string): Promise<DeadLetterRecord | undefined> {
  const [r] = await store.query<Parameters<typeof record>[0]>(
    `SELECT ${COLUMNS} FROM ${store.t('dead_letters')} FINAL WHERE dlq_id = {id:String} LIMIT 1`, { id: dlqId })
  return r ? record(r) : undefined
}
