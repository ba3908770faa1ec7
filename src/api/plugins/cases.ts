import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { CASEWORK, canSee } from '../../auth/principal.ts'
import { FundwatchError } from '../../errors.ts'
import { CasePatch, NewCase, type CaseRec } from '../../review/cases.ts'
import { isOpen } from '../../review/workflow.ts'
import { alertsById, type StoredAlert } from '../../store/alerts.ts'
import { guardAlert, rawAlertItems, who, type ApiDeps } from '../context.ts'
import { sumYuan } from '../../util/money.ts'
import { Case, CaseDetail, CaseId, errors, type TimelineEntry } from '../schemas.ts'

/** A case the caller may see (every place it touches is in their scope), or 404. */
export async function visibleCase(deps: ApiDeps, req: FastifyRequest, id: string): Promise<CaseRec> {
  const c = await deps.cases.get(id)
  const p = who(req)
  if (!c || !c.fixmedins_codes.every((code, i) => canSee(p, { fixmedins_code: code, admdvs: c.admdvs[i] ?? '' }))) throw new FundwatchError('NOT_FOUND', `case ${id} not found`)
  return c
}

/** The alerts named, each existing and visible to the caller — else 404 naming the first that is not. */
export async function visibleAlerts(deps: ApiDeps, req: FastifyRequest, ids: readonly string[]): Promise<StoredAlert[]> {
  const found = new Map((await alertsById(deps.app.store, ids)).map((a) => [a.alert.alert_id, a]))
  const p = who(req)
  for (const id of ids) {
    const a = found.get(id)
    if (!a || !canSee(p, { fixmedins_code: a.alert.subject.fixmedins_code, admdvs: a.admdvs })) throw new FundwatchError('NOT_FOUND', `alert ${id} not found`)
  }
  return ids.map((id) => found.get(id)!)
}

export function caseOut(c: CaseRec, alerts: readonly StoredAlert[]): z.output<typeof Case> {
  return { ...c, amount_at_risk: sumYuan(alerts.map((a) => a.alert.amount_at_risk)) }
}

/** Everything shown about a case: its alerts with workflow, the merged timeline, totals. */
export async function caseBundle(deps: ApiDeps, c: CaseRec) {
  const alerts = await alertsById(deps.app.store, c.alert_ids)
  const order = new Map(c.alert_ids.map((id, i) => [id, i]))
  alerts.sort((a, b) => (order.get(a.alert.alert_id) ?? 0) - (order.get(b.alert.alert_id) ?? 0))
  const [full, events, actions] = await Promise.all([rawAlertItems(deps, alerts), deps.cases.events(c.case_id), deps.review.histories(c.alert_ids)])
  const items = full.map((i) => guardAlert(deps, i))
  const timeline: z.output<typeof TimelineEntry>[] = [
    ...events.map((e) => ({ at: e.at, kind: 'case' as const, alert_id: null, what: e.what, by_name: e.by_name, reason: e.detail })),
    ...actions.map((a) => ({ at: a.at, kind: 'alert' as const, alert_id: a.alert_id, what: a.kind === 'assign' ? 'assign' : `${a.from}→${a.to}`, by_name: a.by_name, reason: a.reason })),
  ].sort((x, y) => x.at.localeCompare(y.at))
  const totals = {
    alerts: full.length,
    open_alerts: full.filter((i) => isOpen(i.workflow.status)).length,
    amount_at_risk: sumYuan(full.map((i) => i.amount_at_risk)),
    recovered_amount: sumYuan(full.map((i) => i.workflow.decision?.recovered_amount ?? '0')),
    penalty_amount: sumYuan(full.map((i) => i.workflow.decision?.penalty_amount ?? '0')),
  }
  return { alerts, full, items, timeline, totals }
}

/** Cases: alerts about one institution, doctor or person, grouped for an inspector. */
export const casesPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()

  r.get('/api/v1/cases', {
    config: { roles: CASEWORK },
    schema: {
      tags: ['cases'], summary: 'Cases in the caller\'s scope, newest first',
      querystring: z.object({ status: z.enum(['open', 'closed']).optional(), limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().max(200).optional() }).strict(),
      response: { 200: z.object({ cases: z.array(Case), next: z.string().optional() }), ...errors },
    },
  }, async (req) => {
    const page = await deps.cases.list(who(req), req.query)
    const alerts = new Map((await alertsById(deps.app.store, [...new Set(page.cases.flatMap((c) => c.alert_ids))])).map((a) => [a.alert.alert_id, a]))
    return { cases: page.cases.map((c) => caseOut(c, c.alert_ids.flatMap((id) => alerts.get(id) ?? []))), next: page.next }
  })

  r.post('/api/v1/cases', {
    config: { roles: CASEWORK },
    schema: {
      tags: ['cases'], summary: 'Open a case over alerts the caller can see',
      body: NewCase,
      response: { 201: z.object({ case: Case }), ...errors },
    },
  }, async (req, reply) => {
    const alerts = await visibleAlerts(deps, req, [...new Set(req.body.alert_ids)])
    const subject = req.body.subject.fixmedins_code
    if (subject !== undefined) {
      // The subject is named by the caller, not derived: it must be a place the caller can see, like the alerts.
      const admdvs = deps.app.kb().institutions.get(subject)?.admdvs ?? alerts.find((a) => a.alert.subject.fixmedins_code === subject)?.admdvs
      if (admdvs === undefined || !canSee(who(req), { fixmedins_code: subject, admdvs })) throw new FundwatchError('NOT_FOUND', `institution ${subject} not found`)
    }
    const c = await deps.cases.create(who(req), req.body, alerts)
    return reply.status(201).send({ case: caseOut(c, alerts) })
  })

  r.get('/api/v1/cases/:case_id', {
    config: { roles: CASEWORK },
    schema: {
      tags: ['cases'], summary: 'A case: its alerts with their workflow, the timeline, totals',
      params: z.object({ case_id: CaseId }),
      response: { 200: CaseDetail, ...errors },
    },
  }, async (req) => {
    const c = await visibleCase(deps, req, req.params.case_id)
    const b = await caseBundle(deps, c)
    return { case: caseOut(c, b.alerts), alerts: b.items, timeline: b.timeline, totals: b.totals }
  })

  r.patch('/api/v1/cases/:case_id', {
    config: { roles: CASEWORK },
    schema: {
      tags: ['cases'], summary: 'Edit, add or remove alerts, close or reopen (optimistic: send the version you saw)',
      params: z.object({ case_id: CaseId }),
      body: CasePatch,
      response: { 200: z.object({ case: Case }), ...errors },
    },
  }, async (req) => {
    const c = await visibleCase(deps, req, req.params.case_id)
    if (req.body.add_alert_ids?.length) await visibleAlerts(deps, req, req.body.add_alert_ids)
    let after: readonly StoredAlert[] = []
    const next = await deps.cases.update(who(req), c, req.body, async (ids) => (after = await alertsById(deps.app.store, ids)),
      (id, places) => deps.directory.checkCaseAssignee(id, places))
    if (!after.length) after = await alertsById(deps.app.store, next.alert_ids)
    return { case: caseOut(next, after) }
  })
}
