import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify'
import type { Principal, Role } from '../auth/principal.ts'
import type { Users } from '../auth/users.ts'
import { FundwatchError } from '../errors.ts'

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal
  }
  interface FastifyContextConfig {
    /** Open to anyone without a token: health, metrics, the OpenAPI UI, the console's files. */
    public?: boolean
    /** Roles allowed on the route. A route that is not public and names no role refuses everyone. */
    roles?: readonly Role[]
    /** The SSE stream also takes ?access_token= (EventSource cannot send headers). */
    tokenInQuery?: boolean
  }
  interface FastifyInstance {
    /** Every route the router holds, as registered (automatic HEAD routes and plugins' routes included). */
    routeTable(): readonly RouteEntry[]
  }
}

/** One route of the router and what it declares. */
export interface RouteEntry {
  method: string
  url: string
  config: { public?: boolean; roles?: readonly Role[]; tokenInQuery?: boolean }
}

const declared = (c: RouteEntry['config']): boolean => c.public === true || (Array.isArray(c.roles) && c.roles.length > 0)

/**
 * Records every route the router gets, through an `onRoute` hook on the root
 * (so routes of every plugin registered later pass through it, HEAD routes
 * included), and refuses to start when one declares neither `public` nor its
 * roles. Register it before anything that adds routes.
 */
export function recordRoutes(f: FastifyInstance): void {
  const seen: RouteOptions[] = []
  f.addHook('onRoute', (r) => { seen.push(r) })
  // Read when asked, not when recorded: a plugin's own onRoute hook (publicRoutes below) runs after this one.
  const table = (): RouteEntry[] => seen.flatMap((r) => (Array.isArray(r.method) ? r.method : [r.method]).map((method) => ({ method, url: r.url, config: { ...(r.config as RouteEntry['config'] | undefined) } })))
  f.decorate('routeTable', table)
  f.addHook('onReady', async () => {
    const bad = table().filter((r) => !declared(r.config) || (r.config.public === true && r.config.roles !== undefined))
    if (bad.length) throw new FundwatchError('CONFIG_INVALID', `routes must declare config.public or config.roles (not both): ${bad.map((r) => `${r.method} ${r.url}`).join(', ')}`)
  })
}

/**
 * Registers plugins whose routes are public — third-party ones (the OpenAPI
 * UI) that cannot declare it themselves — inside a child context whose
 * `onRoute` hook marks every route they add, HEAD routes included.
 */
export function publicRoutes(plugins: (f: FastifyInstance) => Promise<void>): FastifyPluginAsync {
  return async (child) => {
    child.addHook('onRoute', (r) => {
      r.config = { ...r.config, public: true }
    })
    await plugins(child)
  }
}

function bearer(req: FastifyRequest, allowQuery: boolean): string | undefined {
  const h = req.headers.authorization
  if (typeof h === 'string') return /^Bearer\s+(\S+)\s*$/i.exec(h)?.[1] ?? ''
  if (allowQuery) {
    const q = (req.query as { access_token?: unknown } | undefined)?.access_token
    if (typeof q === 'string') return q
  }
  return undefined
}

/**
 * Authentication and authorisation, on the matched route: fastify runs
 * `onRequest` after routing, so `req.routeOptions.config` is the declaration
 * of the route the router chose — whatever the URL text looked like
 * (percent-escapes, letter case). Three hooks on the root, in this order:
 *
 * 1. who is calling: the principal of a bearer token, or nobody (an unknown
 *    or revoked token is nobody too);
 * 2. `limit`: the rate limiter, keyed by that principal, else by the client's
 *    address — so failed authentication is counted like any request;
 * 3. the check: a public route passes; otherwise no principal is 401 and a
 *    role the route does not name is 403 (no roles named: everyone is 403).
 *
 * A request that matched no route passes all three and gets the same bare 404
 * whoever sends it. All of it runs before the body is read, so a refused
 * caller learns nothing about what a valid request would look like.
 */
export function accessControl(f: FastifyInstance, users: Users, limit: onRequestHookHandler): void {
  f.decorateRequest('principal', undefined)
  f.addHook('onRequest', async (req) => {
    if (req.is404 || req.routeOptions.config.public === true) return
    const token = bearer(req, req.routeOptions.config.tokenInQuery === true)
    if (token) req.principal = await users.authenticate(token)
  })
  f.addHook('onRequest', limit)
  f.addHook('onRequest', async (req, reply) => {
    const cfg = req.routeOptions.config
    if (req.is404 || cfg.public === true) return
    // Nothing behind a declared route is for a shared cache: much of it is personal data.
    reply.header('cache-control', 'no-store')
    const p = req.principal
    if (!p) throw new FundwatchError('UNAUTHORIZED', bearer(req, cfg.tokenInQuery === true) ? 'unknown or revoked token' : 'Authorization: Bearer <token> is required')
    if (!cfg.roles?.includes(p.role)) throw new FundwatchError('FORBIDDEN', `role ${p.role} may not use ${req.method} ${req.routeOptions.url}`)
  })
}

/** The key the rate limiter counts a request under: its user when authenticated, else the client address. */
export function limitKey(req: FastifyRequest): string {
  return req.principal ? `user:${req.principal.id}` : `addr:${req.ip}`
}
