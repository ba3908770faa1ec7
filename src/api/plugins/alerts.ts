import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { Result, Severity, Stage } from '../../../schemas/index.ts'
import { DateTime, Money, MoneySum } from '../../../schemas/common.ts'
import { personal } from '../../auth/mask.ts'
import { STAFF, unscoped, type Principal } from '../../auth/principal.ts'
import { FundwatchError } from '../../errors.ts'
import { loadClaims } from '../../evidence/claims.ts'
import { feedbackFor } from '../../review/feedback.ts'
import { Decision } from '../../review/service.ts'
import { STATUSES } from '../../review/workflow.ts'
import { FEED_SORTS, LIFECYCLES, listAlerts } from '../../store/alerts.ts'
import { alertItem, alertItems, alertMeta, feedbackItem, guardAlert, purposeOf, reveals, visibleAlert, who, type ApiDeps } from '../context.ts'
import { AlertDetail, AlertId, AlertItem, AlertOrDegraded, Purpose, csv, errors } from '../schemas.ts'

/** RFC 3339 with an offset, strictly as the wire contract has it (no `-1`, no `March 7`, no 30 February), in the years the store holds. */
const Time = DateTime.max(40)
  .refine((s) => Date.parse(s) >= Date.UTC(1900, 0, 1) && Date.parse(s) < Date.UTC(2300, 0, 1), 'a time between the years 1900 and 2299')
  .transform((s) => Date.parse(s))
const Amount = MoneySum.or(Money).describe('Money in yuan, e.g. 100 or 100.50')

export const FeedQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(300).optional(),
  sort: z.enum(FEED_SORTS).default('newest').describe('newest (detected_at), amount (amount_at_risk), severity (then newest)'),
  fixmedins_code: csv(z.string().max(20)).optional(),
  admdvs: z.string().regex(/^\d{2,6}$/).optional().describe('Region code prefix'),
  detector: csv(z.string().max(60)).optional(),
  stage: csv(Stage).optional(),
  result: csv(Result).optional(),
  severity_in: csv(Severity).optional(),
  status: csv(z.enum(STATUSES)).optional(),
  amount_min: Amount.optional(),
  amount_max: Amount.optional(),
  from: Time.optional(),
  to: Time.optional(),
  assignee: z.string().max(40).optional().describe('A user id, "me", or "none"'),
  overdue: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  psn_no: z.string().max(40).optional(),
  lifecycle: z.enum(LIFECYCLES).default('current')
    .describe('current: active and updated alerts (the default feed); withdrawn: only alerts later facts withdrew; all: both'),
}).strict()

/** The alert feed, alert detail with its evidence, and the review steps. */
export const alertsPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()

  r.get('/api/v1/alerts', {
    config: { roles: STAFF },
    schema: {
      tags: ['alerts'], summary: 'Alert feed: filters, keyset pagination, sort by newest / amount / severity',
      querystring: FeedQuery,
      response: { 200: z.object({ alerts: z.array(AlertOrDegraded), next: z.string().optional() }), ...errors },
    },
  }, async (req) => {
    const p = who(req)
    const q = req.query
    const page = await listAlerts(deps.app.store, {
      limit: q.limit, cursor: q.cursor, sort: q.sort, fixmedins_code: q.fixmedins_code, admdvs: q.admdvs, detector: q.detector,
      stage: q.stage, result: q.result, severity: q.severity_in, status: q.status, amount_min: q.amount_min, amount_max: q.amount_max,
      from: q.from, to: q.to, psn_no: q.psn_no, overdue: q.overdue, lifecycle: q.lifecycle,
      assignee: q.assignee === undefined ? undefined : q.assignee === 'none' ? '' : q.assignee === 'me' ? p.id : q.assignee,
      scope: p,
      now: deps.now(), newOverdueBefore: deps.review.newOverdueBefore(),
    })
    return { alerts: await alertItems(deps, page.alerts), next: page.next }
  })

  r.get('/api/v1/alerts/:alert_id', {
    config: { roles: STAFF },
    schema: {
      tags: ['alerts'], summary: 'One alert with its workflow, history and the visits, fee lines and settlements it rests on (logged as an evidence view)',
      params: z.object({ alert_id: AlertId }),
      querystring: z.object({ purpose: Purpose.optional() }).strict(),
      response: {
        200: AlertDetail,
        ...errors,
      },
    },
  }, async (req) => {
    const a = await visibleAlert(deps, req, req.params.alert_id)
    const reveal = reveals(req)
    // Logged before anything is read back: no record, no evidence.
    await deps.access.record(who(req), { action: 'view', object_type: 'alert', object_id: a.alert.alert_id, purpose: purposeOf(req), revealed: reveal })
    const [states, names, history, claims, feedback] = await Promise.all([
      deps.review.states([a.alert.alert_id]), deps.directory.names(), deps.review.history(a.alert.alert_id), loadClaims(deps.app.store, [a.alert], deps.app.kb()),
      feedbackFor(deps.app.store, [a.alert.alert_id]),
    ])
    return {
      alert: guardAlert(deps, alertItem(deps, a, states.get(a.alert.alert_id), names, reveal)),
      history,
      feedback: feedback.map((f) => feedbackItem(deps, f, reveal)),
      ...claims,
      visits: claims.visits.map((v) => ({ ...v, certno: personal(v.certno, reveal), psn_name: personal(v.psn_name, reveal), brdy: personal(v.brdy, reveal) })),
      revealed: reveal,
    }
  })

  r.post('/api/v1/alerts/:alert_id/transitions', {
    config: { roles: STAFF },
    schema: {
      tags: ['workflow'], summary: 'Move an alert one step (初审 → 复审 → 申诉 → 调查核实 → 违规处理, dismiss, reopen)',
      params: z.object({ alert_id: AlertId }),
      body: z.object({
        to: z.enum(STATUSES),
        version: z.number().int().min(0).describe('workflow.version the change is based on'),
        reason: z.string().max(500).optional(),
        assignee: z.string().max(40).nullable().optional().describe('Owner of the new step; omitted = unchanged'),
        decision: z.object({ recovered_amount: z.string(), penalty_amount: z.string().optional(), measures: z.string().optional() }).optional(),
      }).strict(),
      response: { 200: z.object({ workflow: AlertItem.shape.workflow }), ...errors },
    },
  }, async (req) => {
    const a = await visibleAlert(deps, req, req.params.alert_id)
    const b = req.body
    if (b.assignee) await deps.directory.checkAssignee(b.assignee, { fixmedins_code: a.alert.subject.fixmedins_code, admdvs: a.admdvs })
    let decision: unknown = b.decision
    if (b.decision) {
      const d = Decision.safeParse(b.decision)
      if (!d.success) throw new FundwatchError('BAD_REQUEST', `decision: ${d.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
      decision = d.data
    }
    const { workflow } = await deps.review.transition(who(req), alertMeta(a), { to: b.to, version: b.version, reason: b.reason, assignee: b.assignee, decision })
    const names = await deps.directory.names()
    const out = { ...workflow, assignee_name: workflow.assignee ? (names.get(workflow.assignee) ?? null) : null }
    deps.live.publishWorkflow(a, out)
    return { workflow: out }
  })

  r.post('/api/v1/alerts/:alert_id/assign', {
    config: { roles: STAFF },
    schema: {
      tags: ['workflow'], summary: 'Give the current step to someone (or nobody)',
      params: z.object({ alert_id: AlertId }),
      body: z.object({ assignee: z.string().max(40).nullable(), version: z.number().int().min(0) }).strict(),
      response: { 200: z.object({ workflow: AlertItem.shape.workflow }), ...errors },
    },
  }, async (req) => {
    const a = await visibleAlert(deps, req, req.params.alert_id)
    if (req.body.assignee) await deps.directory.checkAssignee(req.body.assignee, { fixmedins_code: a.alert.subject.fixmedins_code, admdvs: a.admdvs })
    const { workflow } = await deps.review.assign(who(req), alertMeta(a), req.body)
    const names = await deps.directory.names()
    const out = { ...workflow, assignee_name: workflow.assignee ? (names.get(workflow.assignee) ?? null) : null }
    deps.live.publishWorkflow(a, out)
    return { workflow: out }
  })

  r.get('/api/v1/assignees', {
    config: { roles: STAFF },
    schema: {
      tags: ['workflow'], summary: 'Active reviewers whose scope overlaps the caller\'s',
      response: { 200: z.object({ users: z.array(z.object({ id: z.string(), name: z.string(), role: z.enum(['monitor', 'inspector', 'admin']) })) }), ...errors },
    },
  }, async (req) => {
    const p = who(req)
    const users = (await deps.directory.all()).filter((u) => !u.revoked_at && STAFF.includes(u.role) && overlaps(u, p))
    return { users: users.map((u) => ({ id: u.id, name: u.name, role: u.role as 'monitor' | 'inspector' | 'admin' })) }
  })
}

/** Two scopes share some place: a common region prefix line or institution (unscoped overlaps everything). */
function overlaps(a: Pick<Principal, 'admdvs' | 'fixmedins_codes'>, b: Pick<Principal, 'admdvs' | 'fixmedins_codes'>): boolean {
  if (unscoped(a) || unscoped(b)) return true
  return a.admdvs.some((x) => b.admdvs.some((y) => x.startsWith(y) || y.startsWith(x))) || a.fixmedins_codes.some((c) => b.fixmedins_codes.includes(c))
}
