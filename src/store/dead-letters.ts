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
}

export interface DeadLetterRecord {
  dlq_id: string
  reason: string
  /** The validation message: every problem found, one a line (at most ten). */
  detail: string
  /** topic/partition/offset, file:line, or resubmit:<dlq_id>. */
  source: string
  /** RFC 3339, China time. */
  received_at: string
  raw_base64: string
  /** The raw bytes as text when they are valid UTF-8. */
  raw_text?: string
}

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
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params }
}

/** Dead letters per China day and reason, oldest day first. */
export async function deadLetterCounts(store: Store, f: DeadLetterFilter = {}): Promise<{ day: string; reason: string; count: number }[]> {
  const w = where(f)
  const rows = await store.query<{ day: string; reason: string; n: string }>(
    `SELECT toString(toDate(received_at, 'Asia/Shanghai')) AS day, reason, count() AS n FROM ${store.t('dead_letters')} FINAL ${w.sql} GROUP BY day, reason ORDER BY day, n DESC, reason`, w.params)
  return rows.map((r) => ({ day: r.day, reason: r.reason, count: Number(r.n) }))
}

function record(r: { dlq_id: string; reason: string; detail: string; source: string; received_at: string; raw_base64: string }): DeadLetterRecord {
  const raw = Buffer.from(r.raw_base64, 'base64')
  return { dlq_id: r.dlq_id, reason: r.reason, detail: r.detail, source: r.source, received_at: cnIso(fromChTime(r.received_at)), raw_base64: r.raw_base64, ...(isUtf8(raw) ? { raw_text: raw.toString('utf8') } : {}) }
}

/** Newest first, at most `limit`; with `before` (a received_at, RFC 3339) the page after it. */
export async function listDeadLetters(store: Store, f: DeadLetterFilter & { limit: number }): Promise<DeadLetterRecord[]> {
  const w = where(f)
  const rows = await store.query<Parameters<typeof record>[0]>(
    `SELECT dlq_id, reason, detail, source, toString(received_at) AS received_at, raw_base64 FROM ${store.t('dead_letters')} FINAL ${w.sql} ORDER BY received_at DESC, dlq_id LIMIT {limit:UInt32}`, { ...w.params, limit: f.limit })
  return rows.map(record)
}

export async function getDeadLetter(store: Store, dlqId: string): Promise<DeadLetterRecord | undefined> {
  const [r] = await store.query<Parameters<typeof record>[0]>(
    `SELECT dlq_id, reason, detail, source, toString(received_at) AS received_at, raw_base64 FROM ${store.t('dead_letters')} FINAL WHERE dlq_id = {id:String} LIMIT 1`, { id: dlqId })
  return r ? record(r) : undefined
}
