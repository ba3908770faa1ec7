import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { STAFF, scopeSql, type Principal } from '../../auth/principal.ts'
import { ENGINE_EVIDENCE_LABELS } from '../../detect/evidence.ts'
import { nationalRule } from '../../detect/rulebase.ts'
import type { Detector } from '../../detect/types.ts'
import { FundwatchError } from '../../errors.ts'
import { alertItems, who, type ApiDeps } from '../context.ts'
import { AlertOrDegraded, DetectorInfo, errors } from '../schemas.ts'
import { modeIn } from '../../detect/shadow.ts'
import { listAlerts, type AlertTable } from '../../store/alerts.ts'
import { money } from '../../util/money.ts'
import { feedbackStats, type FeedbackStats } from '../../review/feedback.ts'

interface Stats { alerts: number; amount: string; confirmed: number; dismissed: number; closed: number; feedback?: FeedbackStats; shadow?: { alerts: number; amount: string } }

const EMPTY: Stats = { alerts: 0, amount: '0.00', confirmed: 0, dismissed: 0, closed: 0 }

/**
 * Triage outcomes per detector, in the caller's scope: a decided alert counts
 * as confirmed, a dismissed one as a false positive. Untouched alerts are open.
 * Beside them, the institutions' own answers (3103): how many warnings they
 * answered and how many they sent back to be changed.
 */
async function detectorStats(deps: ApiDeps, p: Principal): Promise<Map<string, Stats>> {
  const s = deps.app.store
  const scope = scopeSql(p, { admdvs: 'admdvs', fixmedins_code: 'fixmedins_code' })
  // Shadow: only what is not live (a promoted alert, or a demoted detector's live alert revised in shadow, counts live).
  const notLive = (table: AlertTable) => (table === 'shadow_alerts' ? ` AND alert_id NOT IN (SELECT alert_id FROM ${s.t('alerts')} WHERE detector_id IN (SELECT DISTINCT detector_id FROM ${s.t('shadow_alerts')}))` : '')
  const standing = (table: AlertTable) => s.query<{ detector_id: string; alerts: string; amount: string }>(
    `SELECT detector_id, count() AS alerts, sum(amount_at_risk) AS amount FROM ${s.t(table)} FINAL WHERE ${scope.sql} AND status != 'withdrawn'${notLive(table)} GROUP BY detector_id`, scope.params)
  const [alerts, verdicts, feedback, shadow] = await Promise.all([
    standing('alerts'),
    s.query<{ detector_id: string; confirmed: string; dismissed: string }>(
      `SELECT detector_id, countIf(status = 'decided') AS confirmed, countIf(status = 'dismissed') AS dismissed FROM ${s.t('alert_status')} FINAL WHERE ${scope.sql} GROUP BY detector_id`, scope.params),
    feedbackStats(s, p),
    // What shadow detectors would have raised (src/detect/shadow.ts): never in the counts above.
    standing('shadow_alerts'),
  ])
  const out = new Map<string, Stats>()
  for (const a of alerts) out.set(a.detector_id, { alerts: Number(a.alerts), amount: money(a.amount), confirmed: 0, dismissed: 0, closed: 0 })
  for (const v of verdicts) {
    const st = out.get(v.detector_id) ?? { alerts: 0, amount: '0.00', confirmed: 0, dismissed: 0, closed: 0 }
    st.confirmed = Number(v.confirmed)
    st.dismissed = Number(v.dismissed)
    st.closed = st.confirmed + st.dismissed
    out.set(v.detector_id, st)
  }
  for (const [id, fb] of feedback) {
    const st = out.get(id) ?? { ...EMPTY }
    st.feedback = fb
    out.set(id, st)
  }
  for (const a of shadow) {
    const st = out.get(a.detector_id) ?? { ...EMPTY }
    st.shadow = { alerts: Number(a.alerts), amount: money(a.amount) }
    out.set(a.detector_id, st)
  }
  return out
}

function info(deps: ApiDeps, d: Detector, stats: Stats | undefined): z.output<typeof DetectorInfo> {
  const active = deps.app.engine().active.find((a) => a.detector.id === d.id)
  const defaults = d.params.safeParse({})
  // The registry admits only pattern ids, and every pattern has its national rule (src/detect/rulebase.ts).
  const rule = nationalRule(d.id)!
  const st = stats ?? { alerts: 0, amount: '0.00', confirmed: 0, dismissed: 0, closed: 0 }
  return {
    id: d.id, version: d.version, kind: d.kind, title: d.title, pattern: d.pattern, description: d.description,
    rule_id: rule.rule_id, rule_name: rule.rule_name,
    stages: [...d.stages], scenarios: [...d.scenarios], result: d.result, severity: d.severity, basis: d.basis,
    params_schema: z.toJSONSchema(d.params, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>,
    params: (active?.params ?? (defaults.success ? defaults.data : {})) as Record<string, unknown>,
    evidence_labels: { ...ENGINE_EVIDENCE_LABELS, ...d.evidence },
    enabled: Boolean(active),
    mode: modeIn(deps.app.engine(), d.id),
    stats: {
      alerts: st.alerts, open: Math.max(0, st.alerts - st.closed), confirmed: st.confirmed, dismissed: st.dismissed,
      precision: st.closed ? st.confirmed / st.closed : null, amount_at_risk: st.amount,
      answered: st.feedback?.answered ?? 0, returned: st.feedback?.returned ?? 0,
      returned_rate: st.feedback?.answered ? st.feedback.returned / st.feedback.answered : null,
      shadow: { alerts: st.shadow?.alerts ?? 0, amount_at_risk: st.shadow?.amount ?? '0.00' },
    },
  }
}

/** The detector catalog: what each rule catches, its parameters (JSON Schema from its zod schema) and how its alerts fared in review. */
export const detectorsPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()

  r.get('/api/v1/detectors', {
    config: { roles: STAFF },
    schema: { tags: ['detectors'], summary: 'Detector catalog with parameters and triage outcomes', response: { 200: z.object({ detectors: z.array(DetectorInfo) }), ...errors } },
  }, async (req) => {
    const stats = await detectorStats(deps, who(req))
    return { detectors: deps.app.registry.map((d) => info(deps, d, stats.get(d.id))) }
  })

  r.get('/api/v1/detectors/:id', {
    config: { roles: STAFF },
    schema: {
      tags: ['detectors'], summary: 'One detector',
      params: z.object({ id: z.string().regex(/^[a-z][a-z0-9-]{2,40}$/) }),
      response: { 200: z.object({ detector: DetectorInfo }), ...errors },
    },
  }, async (req) => {
    const d = deps.app.registry.find((x) => x.id === req.params.id)
    if (!d) throw new FundwatchError('NOT_FOUND', `detector ${req.params.id} not found`)
    const stats = await detectorStats(deps, who(req))
    return { detector: info(deps, d, stats.get(d.id)) }
  })

  r.get('/api/v1/detectors/:id/shadow-alerts', {
    config: { roles: STAFF },
    schema: {
      tags: ['detectors'], summary: 'The alerts a detector in shadow mode would have raised (never in the feed), newest first; scoped and masked like the feed',
      params: z.object({ id: z.string().regex(/^[a-z][a-z0-9-]{2,40}$/) }),
      querystring: z.object({
        limit: z.coerce.number().int().min(1).max(500).default(50),
        offset: z.coerce.number().int().min(0).max(10_000).default(0),
      }).strict(),
      response: { 200: z.object({ alerts: z.array(AlertOrDegraded), total: z.number().int().describe('Standing (not withdrawn) shadow alerts of the detector in your scope') }), ...errors },
    },
  }, async (req) => {
    const d = deps.app.registry.find((x) => x.id === req.params.id)
    if (!d) throw new FundwatchError('NOT_FOUND', `detector ${req.params.id} not found`)
    const p = who(req)
    const { limit, offset } = req.query
    // The feed's own reader, on the shadow table: the same scope, lifecycle and order.
    const [page, stats] = await Promise.all([
      listAlerts(deps.app.store, { table: 'shadow_alerts', notLive: true, detector: [d.id], limit: offset + limit, lifecycle: 'current', scope: p }),
      detectorStats(deps, p),
    ])
    return { alerts: await alertItems(deps, page.alerts.slice(offset)), total: stats.get(d.id)?.shadow?.alerts ?? 0 }
  })
}
