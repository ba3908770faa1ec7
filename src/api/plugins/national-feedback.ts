import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { FeedbackRequest, FeedbackResponse } from '../../../schemas/national-feedback.ts'
import { STAFF } from '../../auth/principal.ts'
import { FundwatchError } from '../../errors.ts'
import { AGAINST, FeedbackRefused, listFeedback, recordFeedback } from '../../review/feedback.ts'
import { CN_OFFSET_MS } from '../../util/time.ts'
import { feedbackItem, who, type ApiDeps } from '../context.ts'
import { Feedback, csv, errors } from '../schemas.ts'

/** yyyyMMddHHmmssSSS, China time: the national response's time format. */
function stamp(ms: number): string {
  return new Date(ms + CN_OFFSET_MS).toISOString().replace(/\D/g, '').slice(0, 17)
}

/**
 * The national platform answers a refused transaction as a transaction: HTTP
 * 200, `infcode` -1 and the reason in `err_msg` — that is what HIS code
 * checks. Refusals that are not the transaction's (no or unknown token, a
 * role that may not call it, a body over the limit, the rate limit, the store
 * down) keep their HTTP status, so gateways and load balancers see them, and
 * carry the same national body.
 */
const TRANSPORT = new Set([401, 403, 413, 429])

/** Where fundwatch answers as the platform does: the 3103 feedback of an institution's HIS, and who answered what. */
export const nationalFeedbackPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()
  let serial = 0
  const answer = (req: FastifyRequest, received: number, infcode: 0 | -1, err_msg: string, output: z.output<typeof FeedbackResponse>['output'], error?: string): z.output<typeof FeedbackResponse> => {
    const body = req.body as { mdtrtarea_admvs?: unknown } | undefined
    const division = typeof body?.mdtrtarea_admvs === 'string' && /^\d{6}$/.test(body.mdtrtarea_admvs) ? body.mdtrtarea_admvs : '000000'
    serial = (serial + 1) % 1e10
    return {
      infcode, inf_refmsgid: `${division}${stamp(received).slice(0, 14)}${String(serial).padStart(10, '0')}`,
      refmsg_time: stamp(received), respond_time: stamp(deps.now()), err_msg: err_msg.slice(0, 200), ...(error ? { error } : {}), output,
    }
  }
  const received = (req: FastifyRequest): number => (req as FastifyRequest & { fwReceived?: number }).fwReceived ?? deps.now()

  r.post('/api/v1/national/3103', {
    config: { roles: ['precheck'] },
    attachValidation: true,
    onRequest: async (req) => { (req as FastifyRequest & { fwReceived?: number }).fwReceived = deps.now() },
    schema: {
      tags: ['national'],
      summary: '3103 事前事中服务反馈: an institution answers the warnings of 3101/3102 (继续执行 / 返回修改)',
      description: 'The national request envelope with input.data {warn_type, warns[]: {warn_rslt_id, dspo_way, dspo_way_rea}}. Each warn_rslt_id must be a warning fundwatch gave the envelope\'s institution (a pre-check finding answered to it, or its alert); the institution must be the token\'s. Answered in the national response envelope: infcode 0 with output.recorded[], or infcode -1 with err_msg and nothing recorded. See docs/national-feedback.md.',
      body: FeedbackRequest,
      response: { 200: FeedbackResponse, 401: FeedbackResponse, 403: FeedbackResponse, 413: FeedbackResponse, 429: FeedbackResponse, 500: FeedbackResponse, 503: FeedbackResponse },
    },
    errorHandler: (err: FastifyError, req, reply: FastifyReply) => {
      const status = err instanceof FundwatchError ? err.statusCode : (err.statusCode ?? 500)
      if (status >= 500) {
        deps.app.log.error({ err: { type: err.name, code: err.code, message: String(err.message).slice(0, 500) }, route: req.routeOptions.url }, 'national 3103 failed')
        const unavailable = status === 503
        return reply.status(unavailable ? 503 : 500).send(answer(req, received(req), -1, unavailable ? 'the store did not answer; try again shortly' : 'internal error', null, unavailable && err instanceof FundwatchError ? err.code : 'INTERNAL'))
      }
      const code = err instanceof FundwatchError ? err.code : status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 429 ? 'RATE_LIMITED' : status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'FORBIDDEN' : 'BAD_REQUEST'
      return reply.status(TRANSPORT.has(status) ? status : 200).send(answer(req, received(req), -1, err.message, null, code))
    },
  }, async (req) => {
    const t0 = received(req)
    if (req.validationError) {
      throw new FundwatchError('BAD_REQUEST', validationMessage(req.body))
    }
    try {
      const recorded = await recordFeedback({ store: deps.app.store, kb: deps.app.kb(), metrics: deps.app.metrics }, who(req), req.body, t0)
      return answer(req, t0, 0, '', { recorded })
    } catch (err) {
      if (err instanceof FeedbackRefused) throw new FundwatchError('BAD_REQUEST', err.message)
      throw err
    }
  })

  r.get('/api/v1/national/feedback', {
    config: { roles: STAFF },
    schema: {
      tags: ['national'],
      summary: 'Institutions\' 3103 answers to warnings, newest first, in the caller\'s scope',
      querystring: z.object({
        limit: z.coerce.number().int().min(1).max(500).default(100),
        dspo_way: z.enum(['1', '2']).optional().describe('1 继续执行, 2 返回修改'),
        detector: csv(z.string().max(60)).optional(),
        fixmedins_code: csv(z.string().max(20)).optional(),
        against: z.enum(AGAINST).optional(),
        latest: z.enum(['true', 'false']).transform((v) => v === 'true').optional().describe('Only each warning\'s latest answer (what the detector counts count)'),
      }).strict(),
      response: { 200: z.object({ feedback: z.array(Feedback) }), ...errors },
    },
  }, async (req) => {
    const q = req.query
    const rows = await listFeedback(deps.app.store, { scope: who(req), limit: q.limit, dspo_way: q.dspo_way, detector: q.detector, fixmedins_code: q.fixmedins_code, against: q.against, latest: q.latest })
    return { feedback: rows.map((x) => feedbackItem(deps, x)) }
  })
}

/** The first problems of a request that does not fit the 3103 schema, named by path (warns[0].dspo_way). */
function validationMessage(body: unknown): string {
  const r = FeedbackRequest.safeParse(body)
  if (r.success) return 'the request does not fit the 3103 schema'
  const path = (p: readonly PropertyKey[]) => p.map((x, i) => (typeof x === 'number' ? `[${x}]` : `${i ? '.' : ''}${String(x)}`)).join('').replace(/^input\.data\./, '') || '(envelope)'
  const issues = r.error.issues.slice(0, 3).map((i) => `${path(i.path)}: ${i.message}`)
  return issues.join('; ') + (r.error.issues.length > 3 ? `; … and ${r.error.issues.length - 3} more` : '')
}
