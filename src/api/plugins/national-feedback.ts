import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { FeedbackResponse } from '../../../schemas/national-feedback.ts'
import { STAFF } from '../../auth/principal.ts'
import { AGAINST, listFeedback } from '../../review/feedback.ts'
import { feedbackItem, who, type ApiDeps } from '../context.ts'
import { Feedback, csv, errors } from '../schemas.ts'
import { nationalRoute } from './national.ts'

/** Where fundwatch hears institutions' answers to its warnings (3103, on the shared national route) and shows who answered what. */
export const nationalFeedbackPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()
  nationalRoute(f, deps, '/api/v1/national/3103', '3103', {
    summary: '3103 事前事中服务反馈: an institution answers the warnings of 3101/3102 (继续执行 / 返回修改)',
    description: 'The national request envelope with input.data {warn_type, warns[]: {warn_rslt_id, dspo_way, dspo_way_rea}} (schemas/json/national-3103-request.schema.json); only an institution\'s precheck token answers. Each warn_rslt_id must be a warning fundwatch gave the envelope\'s institution (a pre-check finding answered to it, or its alert). Answered in the national response envelope: infcode 0 with output.recorded[], or infcode -1 with err_msg and nothing recorded. See docs/national-feedback.md.',
    response: FeedbackResponse,
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

