import { createHash } from 'node:crypto'
import type { Alert } from '../../schemas/index.ts'
import { FeedbackRequest } from '../../schemas/national-feedback.ts'
import { FundwatchError, NationalRefusal } from '../errors.ts'
import { canSee, scopeSql, type Principal, type Scope } from '../auth/principal.ts'
import type { KnowledgeBase } from '../kb/knowledge-base.ts'
import type { Metrics } from '../metrics.ts'
import { alertsById } from '../store/alerts.ts'
import type { Store } from '../store/store.ts'
import { chTime, fromChTime } from '../util/time.ts'

/**
 * The institutions' answers to fundwatch's warnings (national 3103,
 * docs/national-feedback.md): 1 继续执行 (the order went ahead as written, with
 * the reason) or 2 返回修改 (it went back to be changed). Each answer is kept
 * by the warning's id — the jr_id of 3101/3102, which is the alert_id of the
 * 事中 alert for the same facts — so it belongs to the alert whether it came
 * before the alert (against the pre-check finding) or after.
 */

export const AGAINST = ['alert', 'finding'] as const
export type Against = (typeof AGAINST)[number]

export interface FeedbackRow {
  feedback_id: string
  alert_id: string
  fixmedins_code: string
  admdvs: string
  detector_id: string
  against: Against
  warn_type: '1' | '2'
  dspo_way: '1' | '2'
  dspo_way_rea: string
  msgid: string
  opter_type: string
  opter: string
  opter_name: string
  /** Epoch ms: when the institution sent it (envelope inf_time) and when fundwatch received it. */
  inf_time: number
  received_at: number
  by_user: string
}

export interface Recorded {
  warn_rslt_id: string
  feedback_id: string
  against: Against
  duplicate: boolean
}

/** A refusal in the transaction's own terms: the national answer carries it as err_msg, and nothing is recorded. */
export class FeedbackRefused extends Error {
  override readonly name = 'FeedbackRefused'
}

/**
 * Notes the findings a pre-check answered, per institution they were answered
 * to (the draft's institution: a finding about another institution's records
 * is disclosed under it, src/precheck/disclosure.ts). Only ids: this is what
 * lets that institution — and no other — answer them in a 3103 before the
 * 事中 alert exists.
 */
export async function recordAnswered(store: Store, findings: readonly Alert[], kb: KnowledgeBase, now: number): Promise<void> {
  await store.insert('precheck_findings', findings.map((a) => ({
    alert_id: a.alert_id, fixmedins_code: a.subject.fixmedins_code, admdvs: kb.institutions.get(a.subject.fixmedins_code)?.admdvs ?? '',
    detector_id: a.detector.id, detector_version: a.detector.version, answered_at: chTime(now),
  })))
}

/** Deterministic: the same message (institution, msgid) answering the same warning is the same feedback. */
export function feedbackId(fixmedins_code: string, msgid: string, warn_rslt_id: string): string {
  return createHash('sha256').update(`${fixmedins_code}\n${msgid}\n${warn_rslt_id}`).digest('hex').slice(0, 32)
}

/** yyyy-MM-dd HH:mm:ss China time → epoch ms. */
const nationalTime = (s: string): number => Date.parse(`${s.replace(' ', 'T')}+08:00`)

/**
 * Records a 3103 for the institution it names, or refuses it whole.
 *
 * The caller (a precheck token) must cover the envelope's institution, and
 * every warn_rslt_id must be one fundwatch told that institution about: a
 * pre-check finding answered to it, or a stored alert about it. Anything else
 * — an id that does not exist, another institution's alert — is refused with
 * the same words, so the answer never says whether someone else's alert exists.
 *
 * A re-send records nothing new: the same msgid gives the same feedback_id,
 * and a new msgid repeating the institution's latest answer to that warning
 * word for word is the same answer again. A changed answer (2, then 1 once the
 * order was rewritten) is a new record; the latest counts.
 */
export async function recordFeedback(deps: { store: Store; kb: KnowledgeBase; metrics: Metrics }, caller: Principal, req: FeedbackRequest, receivedAt: number): Promise<Recorded[]> {
  const { store, kb } = deps
  const inst = req.fixmedins_code
  const admdvs = kb.institutions.get(inst)?.admdvs ?? ''
  if (!canSee(caller, { fixmedins_code: inst, admdvs })) throw new FeedbackRefused(`fixmedins_code ${inst} is not an institution this token may answer for`)
  const warns = req.input.data.warns
  const seen = new Set<string>()
  warns.forEach((w, i) => {
    if (seen.has(w.warn_rslt_id)) throw new FeedbackRefused(`warns[${i}].warn_rslt_id: ${w.warn_rslt_id} is answered twice in one message`)
    seen.add(w.warn_rslt_id)
  })
  const ids = [...seen]
  const read = store.consistency.read
  const [alerts, answered, earlier] = await Promise.all([
    alertsById(store, ids),
    store.query<{ alert_id: string; detector_id: string }>(
      `SELECT alert_id, detector_id FROM ${store.t('precheck_findings')} FINAL WHERE alert_id IN {ids:Array(String)} AND fixmedins_code = {inst:String}`, { ids, inst }, read),
    store.query<{ alert_id: string; feedback_id: string; warn_type: string; dspo_way: string; dspo_way_rea: string; received_at: string }>(
      `SELECT alert_id, feedback_id, warn_type, dspo_way, dspo_way_rea, received_at FROM ${store.t('national_feedback')} FINAL
       WHERE alert_id IN {ids:Array(String)} AND fixmedins_code = {inst:String}`, { ids, inst }, read),
  ])
  const alertOf = new Map(alerts.map((a) => [a.alert.alert_id, a.alert]))
  const findingOf = new Map(answered.map((r) => [r.alert_id, r.detector_id]))
  const known = new Set(earlier.map((r) => r.feedback_id))
  const latest = new Map<string, (typeof earlier)[number]>()
  for (const r of earlier) {
    const cur = latest.get(r.alert_id)
    if (!cur || fromChTime(r.received_at) > fromChTime(cur.received_at) || (r.received_at === cur.received_at && r.feedback_id > cur.feedback_id)) latest.set(r.alert_id, r)
  }

  const out: Recorded[] = []
  const rows: Record<string, unknown>[] = []
  const warnType = req.input.data.warn_type
  warns.forEach((w, i) => {
    const alert = alertOf.get(w.warn_rslt_id)
    const detector = findingOf.get(w.warn_rslt_id) ?? (alert?.subject.fixmedins_code === inst ? alert.detector.id : undefined)
    if (detector === undefined) throw new FeedbackRefused(`warns[${i}].warn_rslt_id: ${w.warn_rslt_id} is not a warning given to ${inst}`)
    const against: Against = alert ? 'alert' : 'finding'
    const id = feedbackId(inst, req.msgid, w.warn_rslt_id)
    const reason = (w.dspo_way_rea ?? '').trim()
    const last = latest.get(w.warn_rslt_id)
    const duplicate = known.has(id) || (last !== undefined && last.warn_type === warnType && last.dspo_way === w.dspo_way && last.dspo_way_rea === reason)
    out.push({ warn_rslt_id: w.warn_rslt_id, feedback_id: duplicate && !known.has(id) ? last!.feedback_id : id, against, duplicate })
    if (duplicate) return
    rows.push({
      feedback_id: id, alert_id: w.warn_rslt_id, fixmedins_code: inst, admdvs, detector_id: alert?.detector.id ?? detector, against,
      warn_type: warnType, dspo_way: w.dspo_way, dspo_way_rea: reason, msgid: req.msgid,
      opter_type: req.opter_type, opter: req.opter, opter_name: req.opter_name,
      inf_time: chTime(nationalTime(req.inf_time)), received_at: chTime(receivedAt), by_user: caller.id,
    })
  })
  if (rows.length) {
    // The same rows sent twice at once (a HIS retrying before the first answer)
    // are one block to deduplicate: the first receipt stands.
    const token = createHash('sha256').update(rows.map((r) => r.feedback_id).join(',')).digest('hex')
    await store.insert('national_feedback', rows, { ...store.consistency.write, insert_deduplication_token: token })
    for (const r of rows) deps.metrics.nationalFeedback.inc({ detector: String(r.detector_id), dspo_way: String(r.dspo_way) })
  }
  return out
}

function fromRow(r: Record<string, unknown>): FeedbackRow {
  return {
    feedback_id: String(r.feedback_id), alert_id: String(r.alert_id), fixmedins_code: String(r.fixmedins_code), admdvs: String(r.admdvs),
    detector_id: String(r.detector_id), against: r.against === 'alert' ? 'alert' : 'finding', warn_type: r.warn_type === '2' ? '2' : '1',
    dspo_way: r.dspo_way === '2' ? '2' : '1', dspo_way_rea: String(r.dspo_way_rea), msgid: String(r.msgid), opter_type: String(r.opter_type),
    opter: String(r.opter), opter_name: String(r.opter_name), inf_time: fromChTime(String(r.inf_time)), received_at: fromChTime(String(r.received_at)),
    by_user: String(r.by_user),
  }
}

/** Every answer given to these warnings, oldest first (an alert's review record shows them all). */
export async function feedbackFor(store: Store, alertIds: readonly string[]): Promise<FeedbackRow[]> {
  if (!alertIds.length) return []
  const rows = await store.query<Record<string, unknown>>(
    `SELECT * FROM ${store.t('national_feedback')} FINAL WHERE alert_id IN {ids:Array(String)} ORDER BY received_at, feedback_id`, { ids: [...alertIds] })
  return rows.map(fromRow)
}

export interface FeedbackQuery {
  scope: Scope
  limit: number
  dspo_way?: '1' | '2'
  detector?: readonly string[]
  fixmedins_code?: readonly string[]
  against?: Against
  /** Only each warning's latest answer (what the counts count). */
  latest?: boolean
}

/** Answers in the caller's scope (the answering institution's place), newest first. */
export async function listFeedback(store: Store, q: FeedbackQuery): Promise<FeedbackRow[]> {
  const scope = scopeSql(q.scope, { admdvs: 'admdvs', fixmedins_code: 'fixmedins_code' })
  const where = [scope.sql]
  const params: Record<string, unknown> = { ...scope.params, limit: q.limit }
  if (q.detector?.length) { where.push('detector_id IN {detector:Array(String)}'); params.detector = [...q.detector] }
  if (q.fixmedins_code?.length) { where.push('fixmedins_code IN {codes:Array(String)}'); params.codes = [...q.fixmedins_code] }
  if (q.against) { where.push('against = {against:String}'); params.against = q.against }
  const base = `SELECT * FROM ${store.t('national_feedback')} FINAL WHERE ${where.join(' AND ')}`
  // The answer in force per warning and institution is its latest; the filter on dspo_way applies to it when asked.
  const from = q.latest ? `(SELECT * FROM (${base}) ORDER BY received_at DESC, feedback_id DESC LIMIT 1 BY alert_id, fixmedins_code)` : `(${base})`
  const way = q.dspo_way ? ' WHERE dspo_way = {way:String}' : ''
  if (q.dspo_way) params.way = q.dspo_way
  const rows = await store.query<Record<string, unknown>>(`SELECT * FROM ${from}${way} ORDER BY received_at DESC, feedback_id DESC LIMIT {limit:UInt32}`, params)
  return rows.map(fromRow)
}

export interface FeedbackStats {
  /** Warnings the institutions answered (each counted once, by its latest answer). */
  answered: number
  /** Of those, answered 2 返回修改. */
  returned: number
}

/**
 * Per detector, in the caller's scope: how many of its warnings institutions
 * answered, and how many of those went back to be changed (the latest answer
 * per warning and institution counts).
 */
export async function feedbackStats(store: Store, scope: Scope): Promise<Map<string, FeedbackStats>> {
  const s = scopeSql(scope, { admdvs: 'admdvs', fixmedins_code: 'fixmedins_code' })
  const rows = await store.query<{ detector_id: string; answered: string; returned: string }>(
    `SELECT detector_id, count() AS answered, countIf(way = '2') AS returned FROM (
       SELECT alert_id, fixmedins_code, any(detector_id) AS detector_id, argMax(dspo_way, (received_at, feedback_id)) AS way
       FROM ${store.t('national_feedback')} FINAL WHERE ${s.sql} GROUP BY alert_id, fixmedins_code
     ) GROUP BY detector_id`, s.params)
  return new Map(rows.map((r) => [r.detector_id, { answered: Number(r.answered), returned: Number(r.returned) }]))
}

/**
 * 3103 as a national transaction (src/api/plugins/national.ts answers it on
 * its own path and through the dispatch URL): an institution's precheck token
 * answers the warnings it was given. A role that may not answer is 403 (not the
 * transaction's fault); a request that does not fit, or names a warning that
 * was not the institution's, is refused as the platform refuses: infcode -1.
 */
export async function feedbackService({ deps, caller, body, now }: {
  deps: { app: { store: Store; kb: () => KnowledgeBase; metrics: Metrics } }; caller: Principal; body: unknown; now: number
}): Promise<{ recorded: Recorded[] }> {
  if (caller.role !== 'precheck') throw new FundwatchError('FORBIDDEN', 'only an institution\'s precheck token answers warnings (3103)')
  const r = FeedbackRequest.safeParse(body)
  if (!r.success) throw new NationalRefusal(feedbackIssues(r.error))
  try {
    return { recorded: await recordFeedback({ store: deps.app.store, kb: deps.app.kb(), metrics: deps.app.metrics }, caller, r.data, now) }
  } catch (err) {
    if (err instanceof FeedbackRefused) throw new NationalRefusal(err.message)
    throw err
  }
}

/** The first problems of a request that does not fit the 3103 schema, named by path (warns[0].dspo_way). */
function feedbackIssues(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string {
  const path = (p: readonly PropertyKey[]) => p.map((x, i) => (typeof x === 'number' ? `[${x}]` : `${i ? '.' : ''}${String(x)}`)).join('').replace(/^input\.data\./, '') || '(envelope)'
  const issues = error.issues.slice(0, 3).map((i) => `${path(i.path)}: ${i.message}`)
  return issues.join('; ') + (error.issues.length > 3 ? `; … and ${error.issues.length - 3} more` : '')
}
