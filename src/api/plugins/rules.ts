import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { applyRules } from '../../detect/rules-file.ts'
import { FundwatchError } from '../../errors.ts'
import { who, type ApiDeps } from '../context.ts'
import { errors } from '../schemas.ts'

const Change = z.object({ hash: z.string(), at: z.string(), by: z.string(), source: z.string(), detectors: z.array(z.string()) })

/**
 * The rule base (规则库) over HTTP, for admins: what is in force and its history,
 * and a hot reload that validates first and swaps between batches.
 */
export const rulesPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()
  const app = deps.app

  r.get('/api/v1/rules', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['rules'], summary: 'The rule base in force (detector@params_hash) and its recorded changes, newest first',
      response: { 200: z.object({ active: z.array(z.object({ id: z.string(), version: z.string(), params_hash: z.string(), params: z.record(z.string(), z.unknown()) })), changes: z.array(Change) }), ...errors },
    },
  }, async () => {
    const changes = await app.store.query<z.infer<typeof Change>>(`SELECT hash, toString(at) AS at, by, source, detectors FROM ${app.store.t('rulebase_changes')} ORDER BY at DESC LIMIT 100`)
    return { active: app.engine().active.map((a) => ({ id: a.detector.id, version: a.detector.version, params_hash: a.paramsHash, params: a.params })), changes }
  })

  r.put('/api/v1/rules', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['rules'], summary: 'Replace the rule base (YAML or JSON text); refused with the offending line when invalid',
      body: z.object({ text: z.string().min(1).max(256 * 1024) }),
      response: {
        200: z.object({
          hash: z.string(), detectors: z.array(z.object({ id: z.string(), params_hash: z.string() })),
          // Detectors the change took from shadow to on, and how many shadow alerts became live (docs/review.md "Shadow rules").
          promoted: z.array(z.object({ detector: z.string(), alerts: z.number().int() })).optional(),
        }),
        ...errors,
      },
    },
  }, async (req) => {
    const p = who(req)
    // The rule base applies everywhere; an admin limited to a region or institutions may not change it.
    if (p.admdvs.length || p.fixmedins_codes.length) throw new FundwatchError('FORBIDDEN', 'only an admin without a scope may change the rule base')
    return applyRules(app, req.body.text, `user:${p.id}`, 'api')
  })
}
