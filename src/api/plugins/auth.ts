import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { ROLES, STAFF } from '../../auth/principal.ts'
import { FundwatchError } from '../../errors.ts'
import { STATUSES, STATUS_LABELS, TRANSITIONS, isOpen } from '../../review/workflow.ts'
import type { ApiDeps } from '../context.ts'
import { who } from '../context.ts'
import { Me, WorkflowInfo, errors } from '../schemas.ts'

function bearer(req: FastifyRequest, allowQuery: boolean): string | undefined {
  const h = req.headers.authorization
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h)
    return m?.[1]
  }
  if (allowQuery) {
    const q = (req.query as { access_token?: unknown } | undefined)?.access_token
    if (typeof q === 'string') return q
  }
  return undefined
}

/**
 * Authentication and role checks for everything under /api: one hook, before
 * body parsing and validation, so a refused caller learns nothing about what a
 * valid request would look like. A route must name its roles; one that does not
 * refuses everyone. Registered without encapsulation so the hook covers every
 * plugin registered after it.
 */
export function authHook(deps: ApiDeps) {
  return async (f: FastifyInstance): Promise<void> => {
    f.decorateRequest('principal', undefined)
    f.addHook('onRequest', async (req) => {
      if (!req.url.startsWith('/api/')) return
      const cfg = req.routeOptions.config
      const token = bearer(req, cfg?.tokenInQuery === true)
      if (!token) throw new FundwatchError('UNAUTHORIZED', 'Authorization: Bearer <token> is required')
      const p = await deps.users.authenticate(token)
      if (!p) throw new FundwatchError('UNAUTHORIZED', 'unknown or revoked token')
      req.principal = p
      // Unmatched /api paths fall through to the 404 handler, after authentication.
      if (!req.routeOptions.url) return
      if (!cfg?.roles?.includes(p.role)) throw new FundwatchError('FORBIDDEN', `role ${p.role} may not use ${req.method} ${req.routeOptions.url}`)
    })
  }
}

/** Who am I, and the workflow's vocabulary (steps, labels, deadlines, who may take which step). */
export const authPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()
  r.get('/api/v1/me', {
    config: { roles: ROLES },
    schema: {
      tags: ['auth'], summary: 'The caller: role and scope',
      response: { 200: Me, ...errors },
    },
  }, async (req) => {
    const p = who(req)
    return { id: p.id, name: p.name, role: p.role, admdvs: [...p.admdvs], fixmedins_codes: [...p.fixmedins_codes] }
  })

  r.get('/api/v1/workflow', {
    config: { roles: STAFF },
    schema: {
      tags: ['workflow'], summary: 'Steps of the handling process, their deadlines and the allowed transitions',
      response: { 200: WorkflowInfo, ...errors },
    },
  }, async () => {
    const cfg = deps.review.config
    return {
      statuses: STATUSES.map((s) => ({ status: s, ...STATUS_LABELS[s], days: isOpen(s) ? cfg.deadlines[s] : null, open: isOpen(s) })),
      transitions: TRANSITIONS.map((t) => ({ ...t, roles: [...t.roles] })),
      holidays: [...cfg.holidays], workdays: [...cfg.workdays],
    }
  })
}
