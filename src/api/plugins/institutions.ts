import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { FixmedinsCode } from '../../../schemas/common.ts'
import { STAFF, canSee, scopeSql, type Principal } from '../../auth/principal.ts'
import { FundwatchError } from '../../errors.ts'
import { chTime } from '../../util/time.ts'
import { compareYuan, money } from '../../util/money.ts'
import { who, type ApiDeps } from '../context.ts'
import { InstitutionRisk, errors } from '../schemas.ts'

type Risk = z.output<typeof InstitutionRisk>

/**
 * Risk per institution in the caller's scope: open amount at risk (alerts not
 * yet decided or dismissed), and the confirmed rate of those reviewed — the
 * list an inspector starts from when choosing whom to visit.
 */
async function ranking(deps: ApiDeps, p: Principal, filter: { admdvs?: string; fixmedins_code?: string }): Promise<Risk[]> {
  const s = deps.app.store
  const scope = scopeSql(p, { admdvs: 'admdvs', fixmedins_code: 'fixmedins_code' })
  const where = [scope.sql, `status != 'withdrawn'`]
  const params: Record<string, unknown> = { ...scope.params, now: chTime(deps.now()), newdue: chTime(deps.review.newOverdueBefore()) }
  if (filter.admdvs) {
    where.push('startsWith(admdvs, {f_admdvs:String})')
    params.f_admdvs = filter.admdvs
  }
  if (filter.fixmedins_code) {
    where.push('fixmedins_code = {f_inst:String}')
    params.f_inst = filter.fixmedins_code
  }
  const status = `${s.t('alert_status')} FINAL`
  const [alerts, verdicts] = await Promise.all([
    s.query<{ fixmedins_code: string; region: string; alerts: string; open_alerts: string; open_amount: string; overdue_new: string }>(
      `SELECT fixmedins_code, any(admdvs) AS region, count() AS alerts,
         countIf(alert_id NOT IN (SELECT alert_id FROM ${status} WHERE status IN ('decided', 'dismissed'))) AS open_alerts,
         sumIf(amount_at_risk, alert_id NOT IN (SELECT alert_id FROM ${status} WHERE status IN ('decided', 'dismissed'))) AS open_amount,
         countIf(detected_at < {newdue:DateTime64(3,'UTC')} AND alert_id NOT IN (SELECT alert_id FROM ${status})) AS overdue_new
       FROM ${s.t('alerts')} FINAL WHERE ${where.join(' AND ')} GROUP BY fixmedins_code`, params),
    s.query<{ fixmedins_code: string; confirmed: string; dismissed: string; overdue: string }>(
      `SELECT fixmedins_code, countIf(status = 'decided') AS confirmed, countIf(status = 'dismissed') AS dismissed,
         countIf(status NOT IN ('decided', 'dismissed') AND due_at < {now:DateTime64(3,'UTC')}) AS overdue
       FROM ${status} WHERE ${where.join(' AND ')} GROUP BY fixmedins_code`, params),
  ])
  const v = new Map(verdicts.map((x) => [x.fixmedins_code, x]))
  const kb = deps.app.kb()
  return alerts.map((a) => {
    const x = v.get(a.fixmedins_code)
    const confirmed = Number(x?.confirmed ?? 0)
    const dismissed = Number(x?.dismissed ?? 0)
    return {
      fixmedins_code: a.fixmedins_code, name: kb.institutions.get(a.fixmedins_code)?.name ?? null, admdvs: a.region,
      alerts: Number(a.alerts), open_alerts: Number(a.open_alerts), open_amount_at_risk: money(a.open_amount),
      confirmed, dismissed, confirmed_rate: confirmed + dismissed ? confirmed / (confirmed + dismissed) : null,
      overdue: Number(a.overdue_new) + Number(x?.overdue ?? 0),
    }
  })
}

const SORTS = {
  open_amount: (a: Risk, b: Risk) => compareYuan(b.open_amount_at_risk, a.open_amount_at_risk),
  confirmed_rate: (a: Risk, b: Risk) => (b.confirmed_rate ?? -1) - (a.confirmed_rate ?? -1) || b.confirmed - a.confirmed,
  alerts: (a: Risk, b: Risk) => b.alerts - a.alerts,
}

export const institutionsPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()

  r.get('/api/v1/institutions/ranking', {
    config: { roles: STAFF },
    schema: {
      tags: ['institutions'], summary: 'Institution risk ranking: open amount at risk, confirmed rate',
      querystring: z.object({
        limit: z.coerce.number().int().min(1).max(500).default(50),
        sort: z.enum(['open_amount', 'confirmed_rate', 'alerts']).default('open_amount'),
        admdvs: z.string().regex(/^\d{2,6}$/).optional(),
      }).strict(),
      response: { 200: z.object({ institutions: z.array(InstitutionRisk) }), ...errors },
    },
  }, async (req) => {
    const rows = await ranking(deps, who(req), { admdvs: req.query.admdvs })
    rows.sort((a, b) => SORTS[req.query.sort](a, b) || a.fixmedins_code.localeCompare(b.fixmedins_code))
    return { institutions: rows.slice(0, req.query.limit) }
  })

  r.get('/api/v1/institutions/:fixmedins_code', {
    config: { roles: STAFF },
    schema: {
      tags: ['institutions'], summary: 'One institution: registry facts and risk',
      params: z.object({ fixmedins_code: FixmedinsCode }),
      response: {
        200: z.object({ institution: InstitutionRisk.extend({ kind: z.string().nullable(), level: z.number().int().nullable(), type: z.string().nullable() }) }),
        ...errors,
      },
    },
  }, async (req) => {
    const code = req.params.fixmedins_code
    const reg = deps.app.kb().institutions.get(code)
    const [risk] = await ranking(deps, who(req), { fixmedins_code: code })
    const admdvs = reg?.admdvs ?? risk?.admdvs
    if (admdvs === undefined || !canSee(who(req), { fixmedins_code: code, admdvs })) throw new FundwatchError('NOT_FOUND', `institution ${code} not found`)
    const base: Risk = risk ?? { fixmedins_code: code, name: reg?.name ?? null, admdvs, alerts: 0, open_alerts: 0, open_amount_at_risk: '0.00', confirmed: 0, dismissed: 0, confirmed_rate: null, overdue: 0 }
    return { institution: { ...base, kind: reg?.kind ?? null, level: reg?.level ?? null, type: reg?.type ?? null } }
  })
}
