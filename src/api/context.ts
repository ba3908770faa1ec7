import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { z } from 'zod'
import type { App } from '../app.ts'
import { personal, revealDeep } from '../auth/mask.ts'
import { statedPurpose } from '../auth/purpose.ts'
import { CASEWORK, canSee, STAFF, type Placement, type Principal } from '../auth/principal.ts'
import type { User, Users } from '../auth/users.ts'
import { FundwatchError } from '../errors.ts'
import type { AccessLog } from '../evidence/access-log.ts'
import type { CaseService } from '../review/cases.ts'
import type { ReviewService, StatusRow } from '../review/service.ts'
import { alertsById, type StoredAlert } from '../store/alerts.ts'
import type { FeedbackRow } from '../review/feedback.ts'
import type { AlertSink } from '../pipeline/types.ts'
import { AlertItem, type DegradedAlert, type Feedback, type Workflow } from './schemas.ts'

/** What every API plugin works with, built once per server. */
export interface ApiDeps {
  app: App
  users: Users
  review: ReviewService
  cases: CaseService
  access: AccessLog
  live: LiveFeed
  now: () => number
  directory: UserDirectory
}

/** The caller; the auth hook has already refused requests without one. */
export function who(req: FastifyRequest): Principal {
  if (!req.principal) throw new FundwatchError('UNAUTHORIZED', 'a bearer token is required')
  return req.principal
}

/**
 * The stated purpose: ?purpose= or X-Purpose (percent-encoded when it is not
 * ASCII, as browsers require), cleaned of invisible characters; '' when
 * neither states one.
 */
export function purposeOf(req: FastifyRequest): string {
  const q = (req.query as { purpose?: unknown } | undefined)?.purpose
  if (typeof q === 'string' && statedPurpose(q)) return statedPurpose(q)
  const h = req.headers['x-purpose']
  if (typeof h !== 'string') return ''
  try {
    return statedPurpose(decodeURIComponent(h))
  } catch {
    return statedPurpose(h)
  }
}

/** Unmasked personal data: only an inspector, only with a stated purpose. */
export function reveals(req: FastifyRequest): boolean {
  return who(req).role === 'inspector' && purposeOf(req) !== ''
}

/** Names of users, for showing who an alert is assigned to; refreshed every few seconds. */
export class UserDirectory {
  private cached: { at: number; users: User[] } | undefined
  constructor(private readonly users: Users, private readonly now: () => number) {}

  async all(): Promise<User[]> {
    if (!this.cached || this.now() - this.cached.at > 5_000) this.cached = { at: this.now(), users: await this.users.list() }
    return this.cached.users
  }

  invalidate(): void {
    this.cached = undefined
  }

  async names(): Promise<Map<string, string>> {
    return new Map((await this.all()).map((u) => [u.id, u.name]))
  }

  /** An assignee must be an active staff user who may see the alert. */
  async checkAssignee(id: string, place: Placement): Promise<void> {
    const u = (await this.all()).find((x) => x.id === id)
    if (!u || u.revoked_at || !STAFF.includes(u.role) || !canSee(u, place)) throw new FundwatchError('BAD_REQUEST', `assignee ${id} is not an active reviewer who can see this alert`)
  }

  /** A case's assignee must be an active inspector or admin who may see every place the case touches. */
  async checkCaseAssignee(id: string, places: readonly Placement[]): Promise<void> {
    const u = (await this.all()).find((x) => x.id === id)
    if (!u || u.revoked_at || !CASEWORK.includes(u.role) || !places.every((pl) => canSee(u, pl))) throw new FundwatchError('BAD_REQUEST', `assignee ${id} is not an active inspector who can see this case`)
  }
}

/** An alert the caller may see, or 404 — for another region's alert too, so ids do not leak. */
export async function visibleAlert(deps: ApiDeps, req: FastifyRequest, id: string): Promise<StoredAlert> {
  const [a] = await alertsById(deps.app.store, [id])
  if (!a || !canSee(who(req), { fixmedins_code: a.alert.subject.fixmedins_code, admdvs: a.admdvs })) throw new FundwatchError('NOT_FOUND', `alert ${id} not found`)
  return a
}

export function alertMeta(a: StoredAlert) {
  return {
    alert_id: a.alert.alert_id, detector_id: a.alert.detector.id, fixmedins_code: a.alert.subject.fixmedins_code, admdvs: a.admdvs,
    amount_at_risk: a.alert.amount_at_risk, detected_at: Date.parse(a.alert.detected_at),
  }
}

type AlertItemOut = z.output<typeof AlertItem>

/** An institution's 3103 answer as the API shows it: the operator's name revealed only with the alert's own reveal. */
export function feedbackItem(deps: ApiDeps, f: FeedbackRow, reveal = false): z.output<typeof Feedback> {
  const iso = (ms: number) => new Date(ms).toISOString()
  return {
    feedback_id: f.feedback_id, alert_id: f.alert_id, fixmedins_code: f.fixmedins_code,
    institution_name: deps.app.kb().institutions.get(f.fixmedins_code)?.name ?? null,
    detector_id: f.detector_id, against: f.against, warn_type: f.warn_type, dspo_way: f.dspo_way, dspo_way_rea: f.dspo_way_rea,
    msgid: f.msgid, opter_type: f.opter_type, opter: f.opter, opter_name: personal(f.opter_name, reveal),
    inf_time: iso(f.inf_time), received_at: iso(f.received_at),
  }
}

/** The feed's view of an alert: the detection, where it is, and its workflow now. */
export function alertItem(deps: ApiDeps, a: StoredAlert, row: StatusRow | undefined, names: Map<string, string>, reveal = false): AlertItemOut {
  const wf = deps.review.workflow(alertMeta(a), row)
  return {
    ...a.alert,
    evidence: reveal ? (revealDeep(a.alert.evidence) as Record<string, unknown>) : a.alert.evidence,
    admdvs: a.admdvs,
    institution_name: deps.app.kb().institutions.get(a.alert.subject.fixmedins_code)?.name ?? null,
    workflow: { ...wf, assignee_name: wf.assignee ? (names.get(wf.assignee) ?? null) : null },
  }
}

/** The feed's items, each checked against the response schema (see guardAlert). */
export async function alertItems(deps: ApiDeps, list: readonly StoredAlert[], reveal = false): Promise<(AlertItemOut | DegradedOut)[]> {
  return (await rawAlertItems(deps, list, reveal)).map((i) => guardAlert(deps, i))
}

/** The items as built, unchecked: for totals computed from them, never for output. */
export async function rawAlertItems(deps: ApiDeps, list: readonly StoredAlert[], reveal = false): Promise<AlertItemOut[]> {
  const [states, names] = await Promise.all([deps.review.states(list.map((a) => a.alert.alert_id)), deps.directory.names()])
  return list.map((a) => alertItem(deps, a, states.get(a.alert.alert_id), names, reveal))
}

type DegradedOut = z.output<typeof DegradedAlert>

/**
 * The item if it fits the response schema, else a degraded stand-in — logged
 * with the alert id and the failing fields (never their values: they may be
 * personal data) — so one bad row never fails the page it is on.
 */
export function guardAlert(deps: ApiDeps, item: AlertItemOut): AlertItemOut | DegradedOut {
  const r = AlertItem.safeEncode(item)
  if (r.success) return item
  const fields = [...new Set(r.error.issues.map((i) => i.path.join('.') || '(root)'))].slice(0, 10).join(', ')
  deps.app.log.error({ alert_id: item.alert_id, fields }, 'stored alert does not fit the response schema; answered degraded')
  deps.app.metrics.degradedAlerts.inc()
  return { alert_id: item.alert_id, degraded: true, problem: `fields that cannot be shown: ${fields}` }
}

export function isDegraded(a: AlertItemOut | DegradedOut): a is DegradedOut {
  return 'degraded' in a
}

/** The live alert feed (implemented by plugins/live.ts), as the routes reach it through ApiDeps. */
export interface LiveFeed {
  /** Add to the pipeline's alertSinks: every stored alert is pushed to the connected clients allowed to see it. */
  readonly sink: AlertSink
  /** GET /api/v1/alerts/stream (registered by buildServer). */
  readonly plugin: FastifyPluginAsync<{ deps: ApiDeps }>
  publishWorkflow(a: StoredAlert, workflow: z.output<typeof Workflow>): void
  clients(): number
  /** Ends the user's open streams (their token was revoked). */
  closeUser(userId: string): void
  /**
   * Ends the streams of users no longer active — revoked by the CLI or on
   * another replica. Runs with every ping; returns how many it ended.
   */
  revalidate(): Promise<number>
  close(): void
}
