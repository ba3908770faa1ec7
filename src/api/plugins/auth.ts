import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { ROLES, STAFF } from '../../auth/principal.ts'
import { STATUSES, STATUS_LABELS, TRANSITIONS, isOpen } from '../../review/workflow.ts'
import type { ApiDeps } from '../context.ts'
import { who } from '../context.ts'
import { Me, WorkflowInfo, errors } from '../schemas.ts'

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
