import { isUtf8 } from 'node:buffer'
import type { z } from 'zod'
import { AnyEvent, EVENT_TYPES, LegacyReversal } from '../../schemas/index.ts'
import { fen, scaled, yuan } from '../util/money.ts'

/**
 * At most this many fee lines in one fee.uploaded (and line ids in one
 * fee.reversed); more is dead-lettered as too_many_lines. The national upload
 * a fee.uploaded maps from (2204 门诊 / 2301 住院费用明细上传) carries its lines
 * in one `input` of at most 40,000 characters, about a hundred lines of the
 * 29–33 fields each; the limit leaves ten times that. It bounds the work and
 * the output of one record: detectors' findings grow with the lines of one
 * event, and a record under the size limit could otherwise hold thousands of
 * lines (docs/design.md, "Bounded work per record").
 */
export const MAX_LINES_PER_EVENT = 1000

export interface DecodeOptions {
  /** Larger records are rejected unread (CONTRACT.md: oversized messages). */
  maxBytes: number
  /** More fee lines (or reversed line ids) in one event are rejected before the schema is run. */
  maxLines: number
  /** event_time later than now + this is "in the far future". */
  futureToleranceMs: number
  now: () => number
}

export const DEFAULT_DECODE: DecodeOptions = { maxBytes: 1 << 20, maxLines: MAX_LINES_PER_EVENT, futureToleranceMs: 24 * 3600_000, now: Date.now }

export interface DecodeFailure { ok: false; reason: string; detail: string }
export type Decoded = { ok: true; event: AnyEvent; eventTime: number; text: string } | DecodeFailure

const KNOWN_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES)

/**
 * Bytes → a validated event, or a machine-readable reason. Never throws: a bad
 * record becomes a dead letter and the partition moves on.
 *
 * Reasons are `<code>` or `<code>@<path>` with array indices folded to `*`
 * (schema.invalid_type@payload.lines.*.cnt), so the reason is precise enough
 * to act on and still a bounded label set for metrics.
 */
export function decode(bytes: Buffer, opts: DecodeOptions = DEFAULT_DECODE): Decoded {
  const r = readJson(bytes, opts)
  if (!r.ok) return r
  return validateEvent(r.json, r.text, opts)
}

/**
 * The steps every source format shares: size, blank, UTF-8, JSON. The JSON is
 * returned as parsed (any value); what shape it must have is the format's say.
 */
export function readJson(bytes: Buffer, opts: DecodeOptions = DEFAULT_DECODE): { ok: true; json: unknown; text: string } | DecodeFailure {
  if (bytes.length > opts.maxBytes) return fail('oversized', `${bytes.length} bytes > limit ${opts.maxBytes}`)
  // Empty and whitespace-only are the same thing, a blank record (a file source skips blank lines and counts them).
  if (isBlank(bytes)) return fail('empty', bytes.length === 0 ? 'empty record' : `blank record (${bytes.length} bytes of whitespace)`)
  if (!isUtf8(bytes)) return fail('bad_encoding', 'not valid UTF-8')
  const text = bytes.toString('utf8')
  try {
    return { ok: true, json: JSON.parse(text) as unknown, text }
  } catch (e) {
    return fail('not_json', (e as Error).message)
  }
}

/** Describes a JSON value that is not an object, for the not_object reason. */
export function notObject(json: unknown): string | undefined {
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) return undefined
  return `top level is ${json === null ? 'null' : Array.isArray(json) ? 'an array' : `a ${typeof json}`}, not an object`
}

/**
 * A parsed contract event → the validated event, or a machine-readable reason.
 * Used for records in the contract format and for the events an adapter maps
 * from another format (src/national/), so both meet the same contract.
 */
export function validateEvent(json: unknown, text: string, opts: DecodeOptions = DEFAULT_DECODE): Decoded {
  const shape = notObject(json)
  if (shape) return fail('not_object', shape)
  const obj = json as Record<string, unknown>
  // Checked before the schema so the reason says what is wrong instead of "no union member matched".
  if (typeof obj.event_type !== 'string') return fail(obj.event_type === undefined ? 'missing_event_type' : 'schema.invalid_type@event_type', 'event_type must be a string')
  if (!KNOWN_TYPES.has(obj.event_type)) return fail('unknown_event_type', `event_type "${String(obj.event_type).slice(0, 60)}"`)
  if (obj.schema_version !== 1) return fail('unsupported_schema_version', `schema_version ${JSON.stringify(obj.schema_version)?.slice(0, 20)}`)
  // Counted before the schema, which would otherwise validate every line of a record it is about to refuse.
  const payload = obj.payload as Record<string, unknown> | null | undefined
  for (const field of ['lines', 'feedetl_sns'] as const) {
    const list = typeof payload === 'object' && payload !== null ? payload[field] : undefined
    if (Array.isArray(list) && list.length > opts.maxLines) return fail(`too_many_lines@payload.${field}`, `${list.length} entries in payload.${field} > limit ${opts.maxLines}`)
  }

  const parsed = AnyEvent.safeParse(obj)
  let ev: AnyEvent
  if (parsed.success) ev = parsed.data
  else {
    // A reversal in the earlier form (no psn_no): taken, with its person still
    // to be found (psn_no ''); the pipeline resolves it from the stored visit.
    const legacy = payload !== null && typeof payload === 'object' && payload.psn_no === undefined ? LegacyReversal.safeParse(obj) : undefined
    if (!legacy?.success) return zodFail(parsed.error)
    ev = { ...legacy.data, payload: { ...legacy.data.payload, psn_no: '' } } as AnyEvent
  }
  const eventTime = Date.parse(ev.event_time)
  if (eventTime > opts.now() + opts.futureToleranceMs) return fail('future_time@event_time', `event_time ${ev.event_time} is in the future`)
  const rule = checkArithmetic(ev)
  if (rule) return rule
  return { ok: true, event: ev, eventTime, text }
}

/** 0.01 yuan at the scale of cnt × pric (10 decimals): a line's amount may differ from the product by the national interface's per-line rounding. */
const LINE_TOLERANCE = 100_000_000n

function checkArithmetic(ev: AnyEvent): Decoded | undefined {
  if (ev.event_type === 'fee.uploaded') {
    const lines = ev.payload.lines
    const seen = new Set<string>()
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!
      const cnt = scaled(l.cnt, 4)
      if (cnt === 0n) return fail('zero_quantity@payload.lines.*.cnt', `line ${i}: cnt is 0`)
      // Exact, in integers: cnt has 4 decimals and pric 6, so their product has 10; the amount's 2 are scaled up to match.
      const diff = cnt * scaled(l.pric, 6) - fen(l.det_item_fee_sumamt) * 100_000_000n
      if (diff > LINE_TOLERANCE || diff < -LINE_TOLERANCE) return fail('amount_mismatch@payload.lines.*', `line ${i} (${l.feedetl_sn}): cnt ${l.cnt} × pric ${l.pric} ≠ det_item_fee_sumamt ${l.det_item_fee_sumamt}`)
      if (seen.has(l.feedetl_sn)) return fail('duplicate_line_id@payload.lines.*.feedetl_sn', `line ${i}: feedetl_sn ${l.feedetl_sn} repeated in one event`)
      seen.add(l.feedetl_sn)
    }
  } else if (ev.event_type === 'settlement.completed') {
    const p = ev.payload
    // The national settlement identity: medfee_sumamt = fund_pay_sumamt + acct_pay + psn_cash_pay + hosp_part_amt (CONTRACT.md).
    const parts = fen(p.fund_pay_sumamt) + fen(p.acct_pay) + fen(p.psn_cash_pay) + fen(p.hosp_part_amt ?? '0')
    const total = fen(p.medfee_sumamt)
    if (parts - total > 1n || total - parts > 1n)
      return fail('settlement_sum_mismatch@payload', `fund_pay_sumamt + acct_pay + psn_cash_pay + hosp_part_amt = ${yuan(parts)} ≠ medfee_sumamt ${p.medfee_sumamt}`)
    if (fen(p.hifp_pay) > fen(p.fund_pay_sumamt)) return fail('fund_pay_mismatch@payload.hifp_pay', `hifp_pay ${p.hifp_pay} > fund_pay_sumamt ${p.fund_pay_sumamt}`)
    if (fen(p.inscp_scp_amt) > total) return fail('scope_amount_mismatch@payload.inscp_scp_amt', `inscp_scp_amt ${p.inscp_scp_amt} > medfee_sumamt ${p.medfee_sumamt}`)
  }
  return undefined
}

/** JSON's whitespace (space, tab, LF, CR) and nothing else. */
export function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false
  return true
}

/** At most this many validation problems of one record are listed in its detail. */
export const MAX_PROBLEMS = 10

/** Every schema problem of the record (up to MAX_PROBLEMS, one a line) in the detail; the first is the reason. */
function zodFail(err: z.ZodError): DecodeFailure {
  const issue = err.issues[0]!
  const path = issue.path.map((p) => (typeof p === 'number' ? '*' : String(p))).join('.')
  const custom = issue.code === 'custom' ? (issue.params as { reason?: string } | undefined)?.reason : undefined
  // A missing field reads as invalid_type with "received undefined"; name it for what it is.
  const missing = issue.code === 'invalid_type' && /received undefined/.test(issue.message)
  const code = custom ?? (missing ? 'schema.missing' : `schema.${issue.code}`)
  const lines = err.issues.slice(0, MAX_PROBLEMS).map((i) => `${i.path.join('.')}: ${i.message}`.slice(0, 200))
  if (err.issues.length > MAX_PROBLEMS) lines.push(`… and ${err.issues.length - MAX_PROBLEMS} more`)
  return fail(path ? `${code}@${path}` : code, lines.join('\n'))
}

function fail(reason: string, detail: string): DecodeFailure {
  return { ok: false, reason, detail: detail.slice(0, 2500) }
}
