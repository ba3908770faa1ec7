import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { detectorSummary, diffRuleBases } from '../../detect/rulebase-diff.ts'
import { REASON_MAX, applyRules, ruleHistory, versionByHash } from '../../detect/rulebase-store.ts'
import { parseRules, rulesHash } from '../../detect/rules-file.ts'
import { FundwatchError } from '../../errors.ts'
import { who, type ApiDeps } from '../context.ts'
import { errors } from '../schemas.ts'

const Hash = z.string().regex(/^[0-9a-f]{1,64}$/, 'a rule-base hash (hex)')
const Change = z.object({ hash: z.string(), at: z.string(), by: z.string(), source: z.string(), reason: z.string(), parent: z.string(), detectors: z.array(z.string()) })
const Text = z.string().min(1).max(256 * 1024)
const Reason = z.string().trim().min(1).max(REASON_MAX).describe('Why the rule base changes: kept in its history with who and when')
const Expected = z.string().regex(/^([0-9a-f]{1,64})?$/, 'a rule-base hash (hex), or empty for none recorded').optional()
  .describe('The hash the change was made against (GET /api/v1/rules `hash`): refused with 409 when another change was recorded since')
/** `expected_hash` as the change's expected parent, when the caller sent one. */
const expected = (h: string | undefined): { expected?: string } => (h === undefined ? {} : { expected: h })
const Mode = z.enum(['on', 'shadow', 'off'])
const Applied = z.object({
  hash: z.string(),
  detectors: z.array(z.object({ id: z.string(), params_hash: z.string() })),
  promoted: z.array(z.object({ detector: z.string(), alerts: z.number().int() })).optional(),
})

/**
 * The rule base (规则库) over HTTP, for admins: the version in force, its
 * history and every recorded version; a candidate checked and compared with
 * the version in force before anything changes; a change or a revert (both
 * appended to the history with a required reason) that every processor and
 * API replica picks up between batches (src/detect/rulebase-store.ts).
 */
export const rulesPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()
  const app = deps.app
  // The rule base applies everywhere; an admin limited to a region or institutions may not change it.
  const changer = (req: FastifyRequest) => {
    const p = who(req)
    if (p.admdvs.length || p.fixmedins_codes.length) throw new FundwatchError('FORBIDDEN', 'only an admin without a scope may change the rule base')
    return `user:${p.id}`
  }

  r.get('/api/v1/rules', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['rules'], summary: 'The rule base in force (hash, text, detector@params_hash) and its recorded changes, newest first',
      response: {
        200: z.object({
          hash: z.string().describe('The version in force in this process; "" when none is recorded (every detector with its defaults)'),
          text: z.string().describe('Its YAML text; "" when none is recorded'),
          active: z.array(z.object({ id: z.string(), version: z.string(), params_hash: z.string(), params: z.record(z.string(), z.unknown()) })),
          changes: z.array(Change),
        }),
        ...errors,
      },
    },
  }, async () => {
    const changes = (await ruleHistory(app.store, 100)).map(({ text: _text, ...c }) => c)
    const inForce = app.rulesInForce()
    return {
      hash: inForce.hash, text: inForce.text,
      active: app.engine().active.map((a) => ({ id: a.detector.id, version: a.detector.version, params_hash: a.paramsHash, params: a.params })), changes,
    }
  })

  r.get('/api/v1/rules/versions/:hash', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['rules'], summary: 'One recorded version of the rule base: its text, and who recorded it first, when and why',
      params: z.object({ hash: Hash }),
      response: { 200: Change.extend({ text: z.string() }), ...errors },
    },
  }, async (req) => {
    const v = await versionByHash(app.store, req.params.hash)
    if (!v) throw new FundwatchError('NOT_FOUND', `no rule-base version ${req.params.hash} is recorded`)
    return v
  })

  r.post('/api/v1/rules/validate', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['rules'], summary: 'Check a candidate rule base as PUT would, changing nothing; with what it changes against the version in force, detector by detector',
      body: z.object({ text: Text }),
      response: {
        200: z.object({
          hash: z.string(),
          detectors: z.array(z.object({ id: z.string(), mode: Mode, params_hash: z.string() })),
          diff: z.array(z.object({ detector: z.string(), path: z.string().describe('e.g. params.max_ratio, mode, scope.admdvs'), from: z.unknown(), to: z.unknown() }))
            .describe('Differences of the effective rules (defaults filled in, enabled/mode normalised); null = not set'),
        }),
        ...errors,
      },
    },
  }, async (req) => {
    const { engine } = parseRules(req.body.text, app.registry)
    return { hash: rulesHash(req.body.text), detectors: detectorSummary(engine, app.registry), diff: diffRuleBases(app.engine(), engine, app.registry) }
  })

  r.put('/api/v1/rules', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['rules'], summary: 'Replace the rule base (YAML or JSON text) with a reason; refused with the offending line when invalid',
      body: z.object({ text: Text, reason: Reason, expected_hash: Expected }),
      response: { 200: Applied, ...errors },
    },
  }, async (req) => applyRules(app, req.body.text, { by: changer(req), source: 'api', reason: req.body.reason, ...expected(req.body.expected_hash) }))

  r.post('/api/v1/rules/revert', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['rules'], summary: 'Put an earlier version back in force: its text is appended to the history again, with this reason',
      body: z.object({ hash: Hash, reason: Reason, expected_hash: Expected }),
      response: { 200: Applied, ...errors },
    },
  }, async (req) => {
    const by = changer(req)
    const v = await versionByHash(app.store, req.body.hash)
    if (!v) throw new FundwatchError('NOT_FOUND', `no rule-base version ${req.body.hash} is recorded`)
    return applyRules(app, v.text, { by, source: 'revert', reason: req.body.reason, ...expected(req.body.expected_hash) })
  })
}
