import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { DateOnly, DateTime } from '../../../schemas/common.ts'
import { unscoped, type Principal } from '../../auth/principal.ts'
import { FundwatchError } from '../../errors.ts'
import { deadLetterCounts, getDeadLetter, listDeadLetters, type DeadLetterCursor, type DeadLetterFilter, type DeadLetterRecord } from '../../store/dead-letters.ts'
import { cnDate, cnDayStart } from '../../util/time.ts'
import { purposeOf, who, type ApiDeps } from '../context.ts'
import { DeadLetterCount, DeadLetterDetail, DeadLetterReason, DeadLetterSummary, DlqId, Purpose, errors } from '../schemas.ts'

const DAY = 86_400_000
/** The counts cover at most this many days: one row per day and reason. */
export const MAX_WINDOW_DAYS = 366
/** An export answers at most this many records, and stops early past EXPORT_MAX_BYTES; x-next-cursor continues it. */
export const EXPORT_MAX_RECORDS = 10_000
export const EXPORT_MAX_BYTES = 16 << 20

/** RFC 3339 with an offset, or a China day (YYYY-MM-DD: its start for `from`, the next day's start for `to`). */
const When = z.union([DateOnly, DateTime.max(40)])
function epoch(s: string, end: boolean): number {
  if (!/^\d{4}-\d\d-\d\d$/.test(s)) return Date.parse(s)
  const start = Date.parse(`${s}T00:00:00+08:00`)
  return end ? start + DAY : start
}

const Filters = {
  from: When.optional().describe('Received at or after (default: the start of the China day 29 days ago, so 30 days with today)'),
  to: When.optional().describe('Received before (default: no bound)'),
  reason: DeadLetterReason.optional().describe('One reason exactly'),
  source: z.string().min(1).max(500).optional().describe('A prefix of source: a topic, topic/partition, or a file path'),
  cursor: z.string().max(200).optional().describe('next (or x-next-cursor) of the previous page'),
  purpose: Purpose.optional().describe('Optional here: written to the access log with a detail view or an export'),
}

function encodeCursor(c: DeadLetterCursor): string {
  return Buffer.from(`${c.received_at}|${c.dlq_id}`).toString('base64url')
}
function decodeCursor(s: string): DeadLetterCursor {
  const [at, id] = Buffer.from(s, 'base64url').toString('utf8').split('|')
  if (!at || !id || !/^\d{1,15}$/.test(at) || !/^[0-9a-f]{32}$/.test(id)) throw new FundwatchError('BAD_REQUEST', 'invalid cursor')
  return { received_at: Number(at), dlq_id: id }
}
const cursorOf = (d: DeadLetterRecord): DeadLetterCursor => ({ received_at: d.received_ms, dlq_id: d.dlq_id })

/**
 * The institutions whose dead letters a caller may see: undefined = all (an
 * unscoped admin). A scoped admin sees the records whose envelope names an
 * institution of theirs, or one the knowledge base places in their regions.
 * A record that does not parse far enough to name an institution belongs to
 * nobody's scope, so only unscoped admins see it.
 */
function institutionsFor(deps: ApiDeps, p: Principal): readonly string[] | undefined {
  if (unscoped(p)) return undefined
  const inRegions = [...deps.app.kb().institutions.values()].filter((i) => p.admdvs.some((a) => i.admdvs.startsWith(a))).map((i) => i.fixmedins_code)
  return [...new Set([...p.fixmedins_codes, ...inRegions])]
}

function filterOf(deps: ApiDeps, p: Principal, q: { from?: string; to?: string; reason?: string; source?: string }): Required<Pick<DeadLetterFilter, 'from'>> & DeadLetterFilter {
  const from = q.from ? epoch(q.from, false) : cnDayStart(deps.now()) - 29 * DAY
  const to = q.to ? epoch(q.to, true) : undefined
  if (to !== undefined && to <= from) throw new FundwatchError('BAD_REQUEST', 'to must be after from')
  if ((to ?? deps.now()) - from > MAX_WINDOW_DAYS * DAY) throw new FundwatchError('BAD_REQUEST', `the window is at most ${MAX_WINDOW_DAYS} days`)
  return { from, to, reason: q.reason, source: q.source, institutions: institutionsFor(deps, p) }
}

const summary = (d: DeadLetterRecord): z.input<typeof DeadLetterSummary> => ({
  dlq_id: d.dlq_id, reason: d.reason, source: d.source, received_at: d.received_at,
  fixmedins_code: d.fixmedins_code ?? null, bytes: Buffer.byteLength(d.raw_base64, 'base64'),
})

/** The detail before masking: the schema's codecs mask detail and raw_text on the way out. */
const detail = (d: DeadLetterRecord): z.input<typeof DeadLetterDetail> => ({
  ...summary(d), detail: d.detail, raw_utf8: d.raw_text !== undefined,
  // Bytes that are not UTF-8 are shown decoded with U+FFFD, never as base64: base64 could not be masked.
  raw_text: d.raw_text ?? Buffer.from(d.raw_base64, 'base64').toString('utf8'),
})

/**
 * Records the pipeline refused (the dead_letters table), for admins: reason
 * counts per China day, a list, one record with every validation problem and
 * its raw text, an export. Admin is not the inspector role: the raw text is
 * always masked (the response schemas' codecs), and every record shown in
 * detail or exported is written to the access log (object_type dead_letter).
 */
export const deadLettersPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()
  const store = deps.app.store

  r.get('/api/v1/dead-letters', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['dead-letters'], summary: 'Refused records: reason counts per China day over a window, and a page of them, newest first',
      querystring: z.object({ ...Filters, limit: z.coerce.number().int().min(1).max(200).default(50) }).strict(),
      response: {
        200: z.object({
          from: z.string().describe('The window, RFC 3339 China time'), to: z.string().nullable(),
          counts: z.array(DeadLetterCount).describe('Per China day and reason, oldest day first (cursor does not apply)'),
          total: z.number().int(),
          dead_letters: z.array(DeadLetterSummary), next: z.string().optional(),
        }),
        ...errors,
      },
    },
  }, async (req) => {
    const q = req.query
    const filter = filterOf(deps, who(req), q)
    const [counts, page] = await Promise.all([
      deadLetterCounts(store, filter),
      listDeadLetters(store, { ...filter, limit: q.limit + 1, after: q.cursor ? decodeCursor(q.cursor) : undefined }),
    ])
    const shown = page.slice(0, q.limit)
    return {
      from: new Date(filter.from).toISOString(), to: filter.to === undefined ? null : new Date(filter.to).toISOString(),
      counts, total: counts.reduce((a, c) => a + c.count, 0),
      dead_letters: shown.map(summary),
      next: page.length > q.limit ? encodeCursor(cursorOf(shown.at(-1)!)) : undefined,
    }
  })

  r.get('/api/v1/dead-letters/export', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['dead-letters'],
      summary: `Refused records as JSON lines (masked, as the detail view), newest first; at most ${EXPORT_MAX_RECORDS} records or ${EXPORT_MAX_BYTES >> 20} MiB per response, x-next-cursor continues; each record is written to the access log`,
      querystring: z.object({ ...Filters, limit: z.coerce.number().int().min(1).max(EXPORT_MAX_RECORDS).default(EXPORT_MAX_RECORDS) }).strict(),
      produces: ['application/x-ndjson'],
      response: { 200: z.string().describe('application/x-ndjson: one DeadLetterDetail a line'), ...errors },
    },
  }, async (req, reply) => {
    const p = who(req)
    const q = req.query
    const filter = filterOf(deps, p, q)
    const lines: string[] = []
    const ids: string[] = []
    let bytes = 0
    let after = q.cursor ? decodeCursor(q.cursor) : undefined
    let more = false
    // Page through the store so the byte budget, not the record count, bounds memory (a record may be up to the record size limit).
    outer: for (;;) {
      const page = await listDeadLetters(store, { ...filter, limit: 200, after })
      for (const d of page) {
        if (ids.length >= q.limit || (ids.length > 0 && bytes >= EXPORT_MAX_BYTES)) {
          more = true
          break outer
        }
        const line = JSON.stringify(z.encode(DeadLetterDetail, detail(d))) + '\n'
        lines.push(line)
        ids.push(d.dlq_id)
        bytes += Buffer.byteLength(line)
        after = cursorOf(d)
      }
      if (page.length < 200) break
    }
    // Logged before anything is sent: a failed write means no export.
    await deps.access.recordMany(p, ids.map((id) => ({ action: 'export' as const, object_type: 'dead_letter' as const, object_id: id, purpose: purposeOf(req), revealed: false })))
    if (more && after) reply.header('x-next-cursor', encodeCursor(after))
    return reply
      .header('content-type', 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="dead-letters-${cnDate(deps.now())}.jsonl"`)
      .header('x-records', String(ids.length))
      .serializer((s: string) => s)
      .send(lines.join(''))
  })

  r.get('/api/v1/dead-letters/:dlq_id', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['dead-letters'], summary: 'One refused record: reason, every validation problem, source, received_at and the raw record, masked (written to the access log)',
      params: z.object({ dlq_id: DlqId }),
      querystring: z.object({ purpose: Filters.purpose }).strict(),
      response: { 200: z.object({ dead_letter: DeadLetterDetail }), ...errors },
    },
  }, async (req) => {
    const p = who(req)
    const d = await getDeadLetter(store, req.params.dlq_id)
    const scope = institutionsFor(deps, p)
    // Outside the caller's scope reads exactly like a record that does not exist.
    if (!d || (scope && !(d.fixmedins_code && scope.includes(d.fixmedins_code)))) throw new FundwatchError('NOT_FOUND', `dead letter ${req.params.dlq_id} not found`)
    await deps.access.record(p, { action: 'view', object_type: 'dead_letter', object_id: d.dlq_id, purpose: purposeOf(req), revealed: false })
    return { dead_letter: detail(d) }
  })
}
