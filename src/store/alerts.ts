import type { Alert } from '../../schemas/index.ts'
import { canSee, scopeSql, type Scope } from './scope.ts'
import { FundwatchError } from '../errors.ts'
import { chTime, fromChTime } from '../util/time.ts'
import { fen, money, yuan } from '../util/money.ts'
import { alertFromRow } from './rows.ts'
import type { Store } from './store.ts'

export const FEED_SORTS = ['newest', 'amount', 'severity'] as const
/** Which revisions of the facts the feed shows: withdrawn alerts leave the default feed, never the store. */
export const LIFECYCLES = ['current', 'withdrawn', 'all'] as const
export type Lifecycle = (typeof LIFECYCLES)[number]
export type FeedSort = (typeof FEED_SORTS)[number]
/**
 * The two tables of the same alert document: `alerts` (live: the feed and
 * everything else) and `shadow_alerts` (detectors in shadow mode,
 * src/detect/shadow.ts). Same columns; every reader here takes the table.
 */
export const ALERT_TABLES = ['alerts', 'shadow_alerts'] as const
export type AlertTable = (typeof ALERT_TABLES)[number]

export interface AlertQuery {
  limit: number
  /** Opaque cursor from the previous page (bound to its sort). */
  cursor?: string
  sort?: FeedSort
  fixmedins_code?: readonly string[]
  /** Region code prefix. */
  admdvs?: string
  detector?: readonly string[]
  stage?: readonly string[]
  result?: readonly string[]
  severity?: readonly string[]
  /** Workflow statuses; `new` also matches alerts nobody has touched. */
  status?: readonly string[]
  /** Money strings (yuan), compared exactly. */
  amount_min?: string
  amount_max?: string
  /** detected_at range, epoch ms, `to` exclusive. */
  from?: number
  to?: number
  /** A user id, or '' for unassigned. */
  assignee?: string
  overdue?: boolean
  psn_no?: string
  /** Absent: all. */
  lifecycle?: Lifecycle
  /** The caller's scope (regions and institutions); absent = everything. */
  scope?: Scope
  /** Needed for the overdue filter: now, and the detection time before which an untouched alert is overdue. */
  now?: number
  newOverdueBefore?: number
  /** Which table to read: the live alerts (default) or a detector's shadow alerts. */
  table?: AlertTable
  /** With table shadow_alerts: only alerts that are not live (never promoted, not a demoted detector's live alert). */
  notLive?: boolean
}

export interface StoredAlert {
  alert: Alert
  admdvs: string
}

type Row = Record<string, unknown>

const OPEN = ['new', 'first_review', 'second_review', 'appeal', 'investigation']
const SEV: Record<string, number> = { critical: 4, high: 3, medium: 2, low: 1 }
const SEV_RANK = `multiIf(severity = 'critical', 4, severity = 'high', 3, severity = 'medium', 2, 1)`
/** What ranking and filtering read; the wide text columns are fetched for the final page only. */
const NARROW = 'alert_id, event_time, detected_at, revision, revised_at, status, amount_at_risk, severity, fixmedins_code, admdvs, detector_id, stage, result, psn_no'
/** Beyond this many candidates the narrow scan gives up and one FINAL query answers. */
const MAX_CANDIDATES = 50_000

/** A row's position in a sort, compared element by element. */
type Key = (string | number | bigint)[]

function keyOf(sort: FeedSort, r: Row): Key {
  if (sort === 'newest') return [String(r.detected_at), String(r.alert_id)]
  if (sort === 'amount') return [fen(String(r.amount_at_risk)), String(r.alert_id)]
  return [SEV[String(r.severity)] ?? 1, String(r.detected_at), String(r.alert_id)]
}

function cmp(a: Key, b: Key): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    if (x < y) return -1
    if (x > y) return 1
  }
  return 0
}

/**
 * The alert feed, keyset-paginated on the sort key plus alert_id —
 * (detected_at, alert_id), (amount_at_risk, alert_id) or (severity rank,
 * detected_at, alert_id) — so a page never repeats or skips an alert while new
 * ones arrive.
 *
 * Why two phases and no FINAL: the alerts table is sorted by alert_id (its
 * dedup key), so a feed page is a top-N over the whole table, and FINAL makes
 * that a merge of every column of every row (~10× slower at a million rows).
 * Instead phase 1 takes the top K rows of the narrow filter and sort columns
 * without FINAL; phase 2 fetches every stored version of those ids by primary
 * key and keeps the one the merge keeps (highest event_time, then the latest
 * detection). Those latest versions are checked against the filters again and
 * kept only if they sort above the K-th candidate: any latest version that
 * sorts higher was itself among the K rows, so the page is exact. When
 * duplicates crowd the candidates, K grows; past MAX_CANDIDATES one FINAL
 * query answers. Workflow filters are subqueries over the small alert_status
 * table.
 */
export async function listAlerts(store: Store, q: AlertQuery): Promise<{ alerts: StoredAlert[]; next?: string }> {
  const sort = q.sort ?? 'newest'
  const table = q.table ?? 'alerts'
  const after = q.cursor ? decodeCursor(q.cursor, sort) : undefined
  const { where, params } = conditions(store, q, sort, after)
  const order = sort === 'newest' ? 'detected_at DESC, alert_id DESC'
    : sort === 'amount' ? 'amount_at_risk DESC, alert_id DESC'
      : `${SEV_RANK} DESC, detected_at DESC, alert_id DESC`
  const filter = where.length ? 'WHERE ' + where.join(' AND ') : ''
  const matches = predicate(q)
  for (let k = q.limit + 1 + 16; k <= MAX_CANDIDATES; k *= 4) {
    const cand = await store.query<Row>(
      `SELECT alert_id, detected_at, amount_at_risk, severity FROM ${store.t(table)} ${filter} ORDER BY ${order} LIMIT {k:UInt32}`, { ...params, k })
    const latest = await latestVersions(store, [...new Set(cand.map((r) => String(r.alert_id)))], NARROW, table)
    const current = q.lifecycle === 'current' ? await currentFilter(store, latest) : () => true
    const bound = cand.length === k ? keyOf(sort, cand.at(-1)!) : undefined
    const page = latest
      .filter((r) => matches(r) && current(r) && (!after || cmp(keyOf(sort, r), after) < 0) && (!bound || cmp(keyOf(sort, r), bound) >= 0))
      .sort((a, b) => cmp(keyOf(sort, b), keyOf(sort, a)))
    if (page.length > q.limit || !bound) {
      // Wide columns only for the page itself: fetching rows by id touches a
      // granule per id, so the fewer ids, the less is read.
      const ids = page.slice(0, q.limit + 1).map((r) => String(r.alert_id))
      const full = new Map((await latestVersions(store, ids, '*', table)).map((r) => [String(r.alert_id), r]))
      return finish(sort, ids.map((id) => full.get(id)!).filter(Boolean), q.limit)
    }
  }
  // FINAL leaves one row, the latest, per alert: 'current' is a row condition here.
  const final = q.lifecycle === 'current'
    ? (filter ? `${filter} AND ` : 'WHERE ') + `(status != 'withdrawn' OR alert_id IN (SELECT alert_id FROM ${store.t('alert_status')} FINAL WHERE status IN {f_review:Array(String)}))`
    : filter
  const rows = await store.query<Row>(`SELECT * FROM ${store.t(table)} FINAL ${final} ORDER BY ${order} LIMIT {limit:UInt32}`, { ...params, f_review: OPEN, limit: q.limit + 1 })
  return finish(sort, rows, q.limit)
}

/**
 * Current: the alert's latest revision is not withdrawn, or its review is open
 * (someone assigned or moved it and has not closed it), so nobody loses work
 * in progress when the facts under it are withdrawn. Only the withdrawn
 * candidates need a look at the review table, by primary key.
 */
async function currentFilter(store: Store, latest: readonly Row[]): Promise<(r: Row) => boolean> {
  const withdrawn = latest.filter((r) => r.status === 'withdrawn').map((r) => String(r.alert_id))
  if (withdrawn.length === 0) return () => true
  const open = new Set((await store.query<{ alert_id: string }>(
    `SELECT alert_id FROM ${store.t('alert_status')} FINAL WHERE alert_id IN {ids:Array(String)} AND status IN {open:Array(String)}`, { ids: withdrawn, open: OPEN }))
    .map((r) => r.alert_id))
  return (r) => r.status !== 'withdrawn' || open.has(String(r.alert_id))
}

function finish(sort: FeedSort, rows: Row[], limit: number): { alerts: StoredAlert[]; next?: string } {
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return {
    alerts: page.map((r) => ({ alert: alertFromRow(r), admdvs: String(r.admdvs) })),
    next: rows.length > limit && last ? Buffer.from(JSON.stringify([sort, ...keyOf(sort, last).map((x) => (typeof x === 'bigint' ? yuan(x) : String(x)))])).toString('base64url') : undefined,
  }
}

function conditions(store: Store, q: AlertQuery, sort: FeedSort, after: Key | undefined): { where: string[]; params: Record<string, unknown> } {
  const where: string[] = []
  const params: Record<string, unknown> = {}
  const status = `${store.t('alert_status')} FINAL`
  if (q.scope) {
    const s = scopeSql(q.scope, { admdvs: 'admdvs', fixmedins_code: 'fixmedins_code' })
    if (s.sql !== '1') {
      where.push(s.sql)
      Object.assign(params, s.params)
    }
  }
  if (after) {
    if (sort === 'newest') where.push(`(detected_at, alert_id) < ({c_at:DateTime64(3,'UTC')}, {c_id:String})`)
    else if (sort === 'amount') where.push(`(amount_at_risk, alert_id) < ({c_amt:Decimal(38,2)}, {c_id:String})`)
    else where.push(`(${SEV_RANK}, detected_at, alert_id) < ({c_sev:UInt8}, {c_at:DateTime64(3,'UTC')}, {c_id:String})`)
    if (sort === 'newest') Object.assign(params, { c_at: after[0], c_id: after[1] })
    else if (sort === 'amount') Object.assign(params, { c_amt: yuan(after[0] as bigint), c_id: after[1] })
    else Object.assign(params, { c_sev: after[0], c_at: after[1], c_id: after[2] })
  }
  const inList = (col: string, name: string, v: readonly string[] | undefined) => {
    if (!v?.length) return
    where.push(`${col} IN {${name}:Array(String)}`)
    params[name] = [...v]
  }
  inList('fixmedins_code', 'f_inst', q.fixmedins_code)
  inList('detector_id', 'f_det', q.detector)
  // Per alert_id, not per revision: a row condition that holds for every version alike.
  if (q.notLive) where.push(`alert_id NOT IN (SELECT alert_id FROM ${store.t('alerts')}${q.detector?.length ? ' WHERE detector_id IN {f_det:Array(String)}' : ''})`)
  inList('stage', 'f_stage', q.stage)
  inList('result', 'f_result', q.result)
  inList('severity', 'f_sev', q.severity)
  if (q.admdvs) {
    where.push('startsWith(admdvs, {f_admdvs:String})')
    params.f_admdvs = q.admdvs
  }
  if (q.psn_no) {
    where.push('psn_no = {f_psn:String}')
    params.f_psn = q.psn_no
  }
  // 'current' has no row condition here: whether an alert is current depends
  // on its latest revision and its review, judged on the candidates in phase 2
  // (listAlerts) — a per-alert condition in SQL cost 40 ms to 140 ms a page
  // over a million alerts (bench feed). 'withdrawn' is a row condition,
  // checked again on the latest revision by predicate().
  if (q.lifecycle === 'withdrawn') where.push(`status = 'withdrawn'`)
  if (q.amount_min !== undefined) {
    where.push('amount_at_risk >= {f_amin:Decimal(38,2)}')
    params.f_amin = money(q.amount_min)
  }
  if (q.amount_max !== undefined) {
    where.push('amount_at_risk <= {f_amax:Decimal(38,2)}')
    params.f_amax = money(q.amount_max)
  }
  if (q.from !== undefined) {
    where.push(`detected_at >= {f_from:DateTime64(3,'UTC')}`)
    params.f_from = chTime(q.from)
  }
  if (q.to !== undefined) {
    where.push(`detected_at < {f_to:DateTime64(3,'UTC')}`)
    params.f_to = chTime(q.to)
  }
  if (q.status?.length) {
    const parts = [`alert_id IN (SELECT alert_id FROM ${status} WHERE status IN {f_status:Array(String)})`]
    params.f_status = [...q.status]
    // Untouched alerts have no status row and are `new`.
    if (q.status.includes('new')) parts.push(`alert_id NOT IN (SELECT alert_id FROM ${status})`)
    where.push(`(${parts.join(' OR ')})`)
  }
  if (q.assignee !== undefined) {
    if (q.assignee === '') where.push(`alert_id NOT IN (SELECT alert_id FROM ${status} WHERE assignee != '')`)
    else {
      where.push(`alert_id IN (SELECT alert_id FROM ${status} WHERE assignee = {f_assignee:String})`)
      params.f_assignee = q.assignee
    }
  }
  if (q.overdue !== undefined) {
    if (q.now === undefined || q.newOverdueBefore === undefined) throw new FundwatchError('BAD_REQUEST', 'overdue filter needs the review clock')
    const overdue = `(alert_id IN (SELECT alert_id FROM ${status} WHERE status IN {f_open:Array(String)} AND due_at < {f_now:DateTime64(3,'UTC')})
      OR (detected_at < {f_newdue:DateTime64(3,'UTC')} AND alert_id NOT IN (SELECT alert_id FROM ${status})))`
    where.push(q.overdue ? overdue : `NOT ${overdue}`)
    Object.assign(params, { f_open: OPEN, f_now: chTime(q.now), f_newdue: chTime(q.newOverdueBefore) })
  }
  return { where, params }
}

/**
 * The alert-table filters again, on the latest version of each candidate (an
 * older version may have matched in phase 1). The overdue filter's untouched
 * branch depends on detected_at, so it is checked here too; the workflow
 * filters themselves do not depend on the alert's version.
 */
function predicate(q: AlertQuery): (r: Row) => boolean {
  const inList = (v: readonly string[] | undefined, x: unknown) => !v?.length || v.includes(String(x))
  return (r) => {
    const amount = fen(String(r.amount_at_risk))
    const at = fromChTime(String(r.detected_at))
    return inList(q.fixmedins_code, r.fixmedins_code) && inList(q.detector, r.detector_id) && inList(q.stage, r.stage)
      && inList(q.result, r.result) && inList(q.severity, r.severity)
      && (!q.admdvs || String(r.admdvs).startsWith(q.admdvs)) && (!q.psn_no || r.psn_no === q.psn_no)
      // 'current' is decided on the latest revisions by currentFilter; 'withdrawn' per row, so again here on the latest.
      && (q.lifecycle !== 'withdrawn' || r.status === 'withdrawn')
      && (q.amount_min === undefined || amount >= fen(q.amount_min)) && (q.amount_max === undefined || amount <= fen(q.amount_max))
      && (q.from === undefined || at >= q.from) && (q.to === undefined || at < q.to)
      && (!q.scope || canSee(q.scope, { fixmedins_code: String(r.fixmedins_code), admdvs: String(r.admdvs) }))
  }
}

/**
 * The current version of each alert, read without FINAL: every stored version
 * by primary key, then the latest (latestOf).
 */
async function latestVersions(store: Store, ids: readonly string[], columns = '*', table: AlertTable = 'alerts'): Promise<Row[]> {
  if (!ids.length) return []
  return latestOf(await store.query<Row>(`SELECT ${columns} FROM ${store.t(table)} WHERE alert_id IN {ids:Array(String)}`, { ids: [...ids] }))
}

/**
 * Of several stored rows of the same alerts, the current one of each: the
 * highest revision; among equal ones (a replay, or rows from before revisions
 * existed, all revision 1) the highest event_time, then the latest detection —
 * what ReplacingMergeTree(event_time) keeps, since revisions keep their
 * alert's event_time and are written in order.
 */
export function latestOf(rows: readonly Row[]): Row[] {
  const best = new Map<string, Row>()
  const rank = (r: Row): Key => [Number(r.revision ?? 1), String(r.event_time), String(r.revised_at ?? r.detected_at), String(r.detected_at)]
  for (const r of rows) {
    const id = String(r.alert_id)
    const cur = best.get(id)
    if (!cur || cmp(rank(r), rank(cur)) > 0) best.set(id, r)
  }
  return [...best.values()]
}

/** Alerts by id (their current version in `table`), in no particular order. */
export async function alertsById(store: Store, ids: readonly string[], table: AlertTable = 'alerts'): Promise<StoredAlert[]> {
  return (await latestVersions(store, ids, '*', table)).map((r) => ({ alert: alertFromRow(r), admdvs: String(r.admdvs) }))
}

const AT = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/
const ID = /^[0-9a-f]{32}$/

function decodeCursor(c: string, sort: FeedSort): Key {
  let v: unknown
  try {
    v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'))
  } catch {
    throw new FundwatchError('BAD_REQUEST', 'invalid cursor')
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new FundwatchError('BAD_REQUEST', 'invalid cursor')
  const [s, ...k] = v as string[]
  if (s !== sort) throw new FundwatchError('BAD_REQUEST', `cursor belongs to sort "${s}", not "${sort}"`)
  if (sort === 'newest' && k.length === 2 && AT.test(k[0]!) && ID.test(k[1]!)) return [k[0]!, k[1]!]
  if (sort === 'amount' && k.length === 2 && /^\d{1,36}\.\d{2}$/.test(k[0]!) && ID.test(k[1]!)) return [fen(k[0]!), k[1]!]
  if (sort === 'severity' && k.length === 3 && /^[1-4]$/.test(k[0]!) && AT.test(k[1]!) && ID.test(k[2]!)) return [Number(k[0]), k[1]!, k[2]!]
  throw new FundwatchError('BAD_REQUEST', 'invalid cursor')
}
