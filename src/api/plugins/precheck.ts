import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { Alert } from '../../../schemas/index.ts'
import { MaskedRecord } from '../../auth/mask.ts'
import { FundwatchError } from '../../errors.ts'
import { ROLES } from '../../auth/principal.ts'
import { PRECHECK_BODY_LIMIT, PRECHECK_MAX_EVENTS, precheck } from '../../precheck/precheck.ts'
import { who, type ApiDeps } from '../context.ts'
import { errors } from '../schemas.ts'

/** POST /api/v1/precheck — 事前提醒 for a hospital HIS (role precheck, its own institution) and for staff trying a claim. */
export const precheckPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()
  r.post('/api/v1/precheck', {
    config: { roles: ROLES },
    bodyLimit: PRECHECK_BODY_LIMIT,
    schema: {
      tags: ['precheck'],
      summary: '事前提醒: what the pre-stage detectors would flag in a draft claim (nothing is stored)',
      description: `The draft is contract events of one person (visit.opened, fee.uploaded, fee.reversed, visit.closed), each naming its psn_no, checked against the person's stored history: at most ${PRECHECK_MAX_EVENTS} events in a body of at most ${PRECHECK_BODY_LIMIT / 1024} KiB. Each event is validated as the pipeline validates it; a finding carries the alert_id its 事中 alert will have. A finding that rests on another institution's records is answered under the disclosure rule (docs/api.md, "Pre-check disclosure").`,
      body: z.object({
        events: z.array(z.unknown()).min(1).max(PRECHECK_MAX_EVENTS),
        stage: z.enum(['pre', 'in']).default('pre').describe('pre: the 事前 detectors (default); in: the 事中 detectors, as at (pre-)settlement (the national 3102 runs this)'),
      }).strict(),
      response: {
        200: z.object({
          psn_no: z.string(),
          findings: z.array(Alert.extend({ evidence: MaskedRecord })),
          violation: z.boolean().describe('Some finding is a 违规 (violation): stop and have the doctor or pharmacist confirm'),
          ms: z.number().describe('Time the check took, milliseconds'),
        }),
        ...errors,
      },
    },
  }, async (req) => {
    const t0 = performance.now()
    const observe = (outcome: string) => deps.app.metrics.precheckSeconds.observe({ outcome }, (performance.now() - t0) / 1000)
    let res: Awaited<ReturnType<typeof precheck>>
    try {
      res = await precheck(deps.app, who(req), req.body.events, deps.now(), { stage: req.body.stage })
    } catch (err) {
      // Failures are timed too: in a store outage the latency alert must see the slow 503s, not only the few that got through.
      observe(err instanceof FundwatchError && err.statusCode < 500 ? 'refused' : 'error')
      throw err
    }
    const ms = performance.now() - t0
    observe(res.findings.length ? 'findings' : 'clean')
    return { ...res, ms: Math.round(ms * 10) / 10 }
  })
}
