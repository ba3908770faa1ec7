import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { STAFF, scopeSql, type Principal } from '../../auth/principal.ts'
import { ENGINE_EVIDENCE_LABELS } from '../../detect/evidence.ts'
import { nationalRule } from '../../detect/rulebase.ts'
import type { Detector } from '../../detect/types.ts'
import { FundwatchError } from '../../errors.ts'
import { who, type ApiDeps } from '../context.ts'
import { DetectorInfo, errors } from '../schemas.ts'
import { money } from '../../util/money.ts'
import { feedbackStats, type FeedbackStats } from '../../review/feedback.ts'

interface Stats { alerts: number; amount: string; confirmed: number; dismissed: number; closed: number; feedback?: FeedbackStats }

/**
 * Triage outcomes per detector, in the caller's scope: a decided alert counts
 * as confirmed, a dismissed one as a false positive. Untouched alerts are open.
 * Beside them, the institutions' own answers (3103): how many warnings they
 * answered and how many they sent back to be changed.
 */
async function detectorStats(deps: ApiDeps, p: Principal): Promise<Map<string, Stats>> {
  const s = deps.app.store
  const scope = scopeSql(p, { admdvs: 'admdvs', fixmedins_code: 'fixmedins_code' })
  const [alerts, verdicts, feedback] = await Promise.all([
    s.query<{ detector_id: string; alerts: string; amount: string }>(
      `SELECT detector_id, count() AS alerts, sum(amount_at_risk) AS amount FROM ${s.t('alerts')} FINAL WHERE ${scope.sql} AND status != 'withdrawn' GROUP BY detector_id`, scope.params),
    s.query<{ detector_id: string; confirmed: string; dismissed: string }>(
      `SELECT detector_id, countIf(status = 'decided') AS confirmed, countIf(status = 'dismissed') AS dismissed FROM ${s.t('alert_status')} FINAL WHERE ${scope.sql} GROUP BY detector_id`, scope.params),
    feedbackStats(s, p),
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
    const st = out.get(id) ?? { alerts: 0, amount: '0.00', confirmed: 0, dismissed: 0, closed: 0 }
    st.feedback = fb
    out.set(id, st)
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
    stats: {
      alerts: st.alerts, open: Math.max(0, st.alerts - st.closed), confirmed: st.confirmed, dismissed: st.dismissed,
      precision: st.closed ? st.confirmed / st.closed : null, amount_at_risk: st.amount,
      answered: st.feedback?.answered ?? 0, returned: st.feedback?.returned ?? 0,
      returned_rate: st.feedback?.answered ? st.feedback.returned / st.feedback.answered : null,
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
}
