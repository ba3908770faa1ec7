import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { scopeWithin } from '../../auth/principal.ts'
import { NewUser, type User } from '../../auth/users.ts'
import { FundwatchError } from '../../errors.ts'
import { who, type ApiDeps } from '../context.ts'
import { UserOut, errors } from '../schemas.ts'

const out = (u: User): z.output<typeof UserOut> => ({ ...u, admdvs: [...u.admdvs], fixmedins_codes: [...u.fixmedins_codes] })

/**
 * Users and tokens (admin). An admin manages only users whose scope lies within
 * their own; others are 404 to them. A token is returned once, at creation.
 */
export const usersPlugin: FastifyPluginAsync<{ deps: ApiDeps }> = async (f, { deps }) => {
  const r = f.withTypeProvider<ZodTypeProvider>()
  const admdvsOf = (code: string) => deps.app.kb().institutions.get(code)?.admdvs

  r.get('/api/v1/users', {
    config: { roles: ['admin'] },
    schema: { tags: ['users'], summary: 'Users within the admin\'s scope', response: { 200: z.object({ users: z.array(UserOut) }), ...errors } },
  }, async (req) => {
    const p = who(req)
    return { users: (await deps.users.list()).filter((u) => scopeWithin(u, p, admdvsOf)).map(out) }
  })

  r.post('/api/v1/users', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['users'], summary: 'Create a user; the token is in this response only',
      body: NewUser,
      response: { 201: z.object({ user: UserOut, token: z.string().describe('Shown once; stored only as SHA-256') }), ...errors },
    },
  }, async (req, reply) => {
    const p = who(req)
    const { user, token } = await deps.users.create(req.body, p, { within: p, admdvsOf })
    deps.directory.invalidate()
    return reply.status(201).send({ user: out(user), token })
  })

  r.post('/api/v1/users/:user_id/revoke', {
    config: { roles: ['admin'] },
    schema: {
      tags: ['users'], summary: 'Revoke a user\'s token (immediately on this server, open live streams closed); not one\'s own',
      params: z.object({ user_id: z.string().regex(/^u_[0-9a-f]{16}$/) }),
      response: { 200: z.object({ user: UserOut }), ...errors },
    },
  }, async (req) => {
    const p = who(req)
    const u = await deps.users.get(req.params.user_id)
    if (!u || !scopeWithin(u, p, admdvsOf)) throw new FundwatchError('NOT_FOUND', `user ${req.params.user_id} not found`)
    // An admin's own token may be the last way in: another admin (or `fundwatch users revoke` on the host) revokes it.
    if (u.id === p.id) throw new FundwatchError('CONFLICT', 'you cannot revoke your own token; another admin, or `fundwatch users revoke`, can')
    const revoked = await deps.users.revoke(u.id)
    deps.directory.invalidate()
    deps.live.closeUser(u.id)
    return { user: out(revoked!) }
  })
}
