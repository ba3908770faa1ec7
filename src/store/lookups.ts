import type { Store } from './store.ts'

/** Who a visit belongs to: the person and institution of the first event that established it. */
export interface VisitOwner {
  psn_no: string
  fixmedins_code: string
}

/** What admission asks about one batch. */
export interface LookupKeys {
  eventIds?: Iterable<string>
  mdtrtIds?: Iterable<string>
  /** Fee lines named by reversals, as `${mdtrt_id}/${feedetl_sn}` (neither id may hold a "/"). */
  lines?: Iterable<string>
  /** Settlements named by reversals: setl_id with its visit. */
  settlements?: Iterable<{ mdtrt_id: string; setl_id: string }>
}

/** What the store knows of those keys. Absent = never stored. */
export interface Known {
  /** event_id → SHA-256 (hex) of the first content stored under it. */
  events: Map<string, string>
  visits: Map<string, VisitOwner>
  /** `${mdtrt_id}/${feedetl_sn}` of the stored lines asked about. */
  lines: Set<string>
  /** setl_id of the stored settlements asked about. */
  settlements: Set<string>
}

export function emptyKnown(): Known {
  return { events: new Map(), visits: new Map(), lines: new Set(), settlements: new Set() }
}

/**
 * Keys travel as query parameters, i.e. in the request URI of a ClickHouse
 * server (http_max_uri_size: 1 MiB by default; `chdb-server` takes the same).
 * A query carries at most this much of them, URL-encoded: a batch of the
 * default size with ordinary ids is one query.
 */
const URI_BUDGET = 512 * 1024

type Row = { k: string; a: string; b: string; c: string; d: string }
interface Chunk { e: string[]; m: string[]; l: string[]; s: { mdtrt_id: string; setl_id: string }[] }

/**
 * One query per batch (per ~512 KiB of keys): the stored content hash of each
 * event id, the owner of each visit, and whether the lines and settlements that
 * reversals name were ever stored. Point lookups on the indexes' sorting keys
 * (event_index, visit_index); lines and settlements are found through their
 * person (psn_no leads their sorting keys), taken from the visit index — so a
 * reversal that lacks psn_no is resolved too.
 */
export async function lookupKnown(store: Store, keys: LookupKeys): Promise<Known> {
  const chunks: Chunk[] = []
  let cur: Chunk = { e: [], m: [], l: [], s: [] }
  let used = 0
  const add = (key: string, put: (c: Chunk) => void, times = 1) => {
    // Escaped, quoted and comma-separated inside an array literal, then URL-encoded.
    const cost = (encodeURIComponent(key.replace(/['\\]/g, '\\$&')).length + 9) * times
    if (used + cost > URI_BUDGET && used > 0) {
      chunks.push(cur)
      cur = { e: [], m: [], l: [], s: [] }
      used = 0
    }
    used += cost
    put(cur)
  }
  for (const id of new Set(keys.eventIds ?? [])) add(id, (c) => c.e.push(id))
  for (const id of new Set(keys.mdtrtIds ?? [])) add(id, (c) => c.m.push(id))
  // Lines and settlements send their visit ids a second time (to find their persons).
  for (const k of new Set(keys.lines ?? [])) add(k, (c) => c.l.push(k), 2)
  const setls = new Map([...(keys.settlements ?? [])].map((x) => [`${x.mdtrt_id}/${x.setl_id}`, x]))
  for (const [k, x] of setls) add(k, (c) => c.s.push(x), 2)
  if (used > 0) chunks.push(cur)

  const out = emptyKnown()
  const rows = (await Promise.all(chunks.map((c) => query(store, c)))).flat()
  const firstSeen = new Map<string, string>()
  for (const r of rows) {
    if (r.k === 'e') out.events.set(r.a, r.b)
    else if (r.k === 'v') {
      // Normally one owner per visit; where history holds more (stored before
      // admission existed), the first established it.
      const seen = firstSeen.get(r.a)
      if (seen === undefined || r.d < seen) {
        firstSeen.set(r.a, r.d)
        out.visits.set(r.a, { psn_no: r.b, fixmedins_code: r.c })
      }
    } else if (r.k === 'l') out.lines.add(`${r.a}/${r.b}`)
    else if (r.k === 's') out.settlements.add(r.a)
  }
  return out
}

async function query(store: Store, c: Chunk): Promise<Row[]> {
  // Only the parts with keys are sent; the SQL is assembled from these fixed
  // fragments, never from input (every value is a parameter).
  const parts: string[] = []
  const params: Record<string, unknown> = {}
  if (c.e.length) {
    parts.push(`SELECT 'e' AS k, event_id AS a, argMin(content_sha256, first_ingested) AS b, '' AS c, '' AS d
      FROM ${store.t('event_index')} WHERE event_id IN {e:Array(String)} GROUP BY event_id`)
    params.e = c.e
  }
  if (c.m.length) {
    parts.push(`SELECT 'v' AS k, mdtrt_id AS a, psn_no AS b, toString(fixmedins_code) AS c, toString(min(first_seen)) AS d
      FROM ${store.t('visit_index')} WHERE mdtrt_id IN {m:Array(String)} GROUP BY mdtrt_id, psn_no, fixmedins_code`)
    params.m = c.m
  }
  if (c.l.length) {
    parts.push(`SELECT DISTINCT 'l' AS k, mdtrt_id AS a, feedetl_sn AS b, '' AS c, '' AS d FROM ${store.t('fee_lines')}
      WHERE psn_no IN (SELECT psn_no FROM ${store.t('visit_index')} WHERE mdtrt_id IN {lm:Array(String)})
        AND mdtrt_id IN {lm:Array(String)} AND concat(mdtrt_id, '/', feedetl_sn) IN {l:Array(String)}`)
    params.lm = [...new Set(c.l.map((k) => k.slice(0, k.indexOf('/'))))]
    params.l = c.l
  }
  if (c.s.length) {
    parts.push(`SELECT DISTINCT 's' AS k, setl_id AS a, '' AS b, '' AS c, '' AS d FROM ${store.t('settlements')}
      WHERE psn_no IN (SELECT psn_no FROM ${store.t('visit_index')} WHERE mdtrt_id IN {sm:Array(String)})
        AND concat(mdtrt_id, '/', setl_id) IN {s:Array(String)}`)
    params.sm = [...new Set(c.s.map((s) => s.mdtrt_id))]
    params.s = c.s.map((s) => `${s.mdtrt_id}/${s.setl_id}`)
  }
  if (parts.length === 0) return []
  return store.query<Row>(parts.join('\nUNION ALL\n'), params)
}
