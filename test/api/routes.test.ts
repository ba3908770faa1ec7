import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RouteEntry } from '../../src/api/access.ts'
import { buildServer } from '../../src/api/server.ts'
import { CONSOLE_ROUTES } from '../../src/api/console.ts'
import { ROLES, type Role } from '../../src/auth/principal.ts'
import { removeDir } from '../helpers/app.ts'
import { fixture, type Fixture, type TokenName } from './fixture.ts'

/**
 * Authorisation is declared on the route and checked on the matched route
 * (issue 8: it used to be decided by the raw URL text, so `/%61pi/v1/access-log`
 * answered without a token). The table below is generated from the router
 * itself — the routes the server registered, HEAD routes and third-party
 * plugins' routes included — so a new route cannot be left out of it.
 */
let fx: Fixture
let dist: string
let routes: readonly RouteEntry[]

const CALLERS: Record<Role, TokenName> = { monitor: 'monitor', inspector: 'inspector', admin: 'admin', precheck: 'precheck' }
/** Well-formed but unknown: must fare exactly like no token. */
const UNKNOWN = 'A'.repeat(43)
const NOT_FOUND = { error: 'NOT_FOUND', message: 'not found' }

beforeAll(async () => {
  dist = mkdtempSync(join(tmpdir(), 'fw-routes-'))
  mkdirSync(join(dist, 'assets'))
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>console</title>')
  writeFileSync(join(dist, 'assets/app-1.js'), 'console.log(1)')
  fx = await fixture({ webDir: dist })
  await fx.server.ready()
  routes = fx.server.routeTable()
})
afterAll(async () => {
  await fx?.close()
  if (dist) removeDir(dist)
})

/** A concrete path for a route pattern: parameters and wildcards get a placeholder. */
function samplePath(url: string): string {
  return url.replace(/:[A-Za-z_]+/g, 'x1').replace(/\*$/, 'x1')
}

/** The path with the first letter of every segment percent-encoded (`/api/v1/me` → `/%61pi/v1/%6de`). */
function encodeFirstLetters(path: string, upperHex = false): string {
  return path.split('/').map((seg) => seg.replace(/[A-Za-z]/, (c) => {
    const hex = c.charCodeAt(0).toString(16)
    return `%${upperHex ? hex.toUpperCase() : hex}`
  })).join('/')
}

/**
 * Ways to write a path. Percent-escapes are decoded by the router, so an
 * encoded path is the same route; the others may match no route, or another
 * one (`/api/v1/cases/` is `/api/v1/cases/:case_id` with an empty id) — which
 * one, the shadow router below says.
 */
const VARIANTS: { name: string; path: (p: string) => string }[] = [
  { name: 'plain', path: (p) => p },
  { name: 'percent-encoded', path: (p) => encodeFirstLetters(p) },
  { name: 'percent-encoded (upper hex)', path: (p) => encodeFirstLetters(p, true) },
  { name: 'trailing slash', path: (p) => `${p}/` },
  { name: 'double slash', path: (p) => p.replace(/^\/([^/]*)\//, '/$1//') },
  { name: 'leading double slash', path: (p) => `/${p}` },
  { name: 'upper case', path: (p) => p.toUpperCase() },
  { name: 'capitalised', path: (p) => p.replace(/^\/([a-z])/, (_m, c: string) => `/${c.toUpperCase()}`) },
]

/**
 * Which route the server's router picks for a request, asked of fastify's own
 * router: a bare server with the same router options and the same routes,
 * each answering with its index in the route table.
 */
async function shadowRouter(server: FastifyInstance, table: readonly RouteEntry[]): Promise<(method: string, url: string) => Promise<RouteEntry | undefined>> {
  const { caseSensitive, ignoreTrailingSlash, ignoreDuplicateSlashes, maxParamLength } = server.initialConfig
  const shadow = Fastify({ exposeHeadRoutes: false, routerOptions: { caseSensitive, ignoreTrailingSlash, ignoreDuplicateSlashes, maxParamLength } })
  // The index rides in a header: HEAD answers have no body.
  table.forEach((r, i) => shadow.route({ method: r.method as 'GET', url: r.url, handler: async (_req, reply) => reply.header('x-route', String(i)).send('') }))
  await shadow.ready()
  return async (method, url) => {
    const r = await shadow.inject({ method: method as 'GET', url })
    return r.statusCode === 200 ? table[Number(r.headers['x-route'])] : undefined
  }
}

/** Every request reads the head only when the answer is a stream (the live feed never ends). */
async function send(method: string, url: string, token: string | undefined): Promise<{ status: number; body: string; headers: LightMyRequestResponse['headers'] }> {
  const r = await fx.server.inject({
    method: method as 'GET', url, payloadAsStream: true,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(['POST', 'PUT', 'PATCH'].includes(method) ? { payload: {} } : {}),
  })
  const stream = r.stream()
  if (String(r.headers['content-type']).startsWith('text/event-stream')) {
    stream.destroy()
    return { status: r.statusCode, body: '', headers: r.headers }
  }
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer))
  return { status: r.statusCode, body: Buffer.concat(chunks).toString('utf8'), headers: r.headers }
}

const isPublicByDesign = (url: string): boolean =>
  url === '/livez' || url === '/readyz' || url === '/healthz' || url === '/metrics' || url === '/docs' || url.startsWith('/docs/') || (CONSOLE_ROUTES as readonly string[]).includes(url) || url === '/assets/*'

describe('route declarations', () => {
  it('every registered route — HEAD routes and plugins\' routes included — declares public or its roles', () => {
    expect(routes.length).toBeGreaterThan(40)
    // The router enumerates the third-party routes and the automatic HEAD routes too.
    expect(routes.some((r) => r.url.startsWith('/docs/static/'))).toBe(true)
    expect(routes.some((r) => r.method === 'HEAD' && r.url === '/api/v1/alerts')).toBe(true)
    expect(routes.some((r) => r.url === '/assets/*')).toBe(true)
    for (const r of routes) {
      const declared = r.config.public === true || (Array.isArray(r.config.roles) && r.config.roles.length > 0)
      expect(declared, `${r.method} ${r.url} declares nothing`).toBe(true)
      expect(r.config.public === true, `${r.method} ${r.url}: public is only the probes, /metrics, /docs and the console`).toBe(isPublicByDesign(r.url))
      if (r.config.public === true) expect(r.config.roles, `${r.method} ${r.url} is public and names roles`).toBeUndefined()
    }
  })

  it('a route that declares nothing, or no roles, refuses everyone: the server does not start', async () => {
    const server = await buildServer(fx.app, { webDir: false, review: {} })
    server.get('/api/v1/undeclared', async () => ({ secret: 1 }))
    server.get('/api/v1/nobody', { config: { roles: [] } }, async () => ({ secret: 1 }))
    await expect(server.ready()).rejects.toThrow(/GET \/api\/v1\/undeclared.*GET \/api\/v1\/nobody/s)
    await server.close().catch(() => undefined)
  })

  it('issue 8: a percent-encoded /api path is authenticated like the plain one', async () => {
    for (const url of ['/%61pi/v1/access-log?limit=5', '/%61pi/v1/rules', '/%61pi/v1/workflow']) {
      const r = await fx.call(null, 'GET', url)
      expect([url, r.statusCode, r.json().error]).toEqual([url, 401, 'UNAUTHORIZED'])
      expect(r.body).not.toContain(fx.ids.admin)
    }
    const monitorRules = await fx.call('monitor', 'GET', '/%61pi/v1/rules')
    expect(monitorRules.statusCode).toBe(403)
    expect((await fx.call('precheck', 'GET', '/%61pi/v1/workflow')).statusCode).toBe(403)
    expect((await fx.call('monitor', 'GET', '/%61pi/v1/access-log')).statusCode).toBe(403)
  })
})

describe('route × caller × path variant, from the router', () => {
  // Failures are collected and shown together: one look tells which routes, callers and variants are wrong.
  it('every route answers each caller as the route the router matched declares, on every way to write its path', async () => {
    const match = await shadowRouter(fx.server, routes)
    const failures: string[] = []
    const check = (cond: boolean, what: string) => { if (!cond) failures.push(what) }
    const callers: { name: string; role: Role | null; token: string | undefined }[] = [
      { name: 'no token', role: null, token: undefined },
      { name: 'unknown token', role: null, token: UNKNOWN },
      ...ROLES.map((role) => ({ name: role, role, token: fx.tokens[CALLERS[role]] })),
    ]
    let checked = 0
    for (const route of routes) {
      const base = samplePath(route.url)
      for (const v of VARIANTS) {
        const url = v.path(base)
        const target = await match(route.method, url)
        // The bug this pins: an encoded path is the same route, so it must get the same check.
        if (v.name.startsWith('plain') || v.name.startsWith('percent')) check(target === route, `${route.method} ${url} (${v.name}) is not ${route.url} to the router`)
        const answers = []
        for (const c of callers) {
          const r = await send(route.method, url, c.token)
          answers.push(r.status)
          checked++
          const what = `${route.method} ${url} (${v.name} → ${target ? target.url : 'no route'}) as ${c.name} → ${r.status} ${r.body.slice(0, 120)}`
          if (!target) {
            check(r.status === 404 && (route.method === 'HEAD' || r.body === JSON.stringify(NOT_FOUND)), `${what}: expected the bare 404`)
            continue
          }
          if (target.config.public) {
            check(r.status !== 401, `${what}: public route asks for a token`)
            continue
          }
          // Nothing behind a declared route is for a shared cache.
          check(String(r.headers['cache-control']).includes('no-store'), `${what}: no Cache-Control: no-store`)
          const error = route.method === 'HEAD' || r.status < 400 ? undefined : (JSON.parse(r.body) as { error?: string }).error
          if (c.role === null) check(r.status === 401 && (route.method === 'HEAD' || error === 'UNAUTHORIZED'), `${what}: expected 401`)
          else if (!(target.config.roles ?? []).includes(c.role)) check(r.status === 403 && (route.method === 'HEAD' || error === 'FORBIDDEN'), `${what}: expected 403`)
          else check(r.status !== 401 && r.status !== 403 && r.status < 500, `${what}: an allowed caller refused or failed`)
        }
        // Public means the same answer whoever asks.
        if (target?.config.public) check(new Set(answers).size === 1, `${route.method} ${url} (${v.name}): a public route answers callers differently: ${answers.join(',')}`)
      }
      // A method the path does not have is no route either.
      if (!routes.some((x) => x.method === 'DELETE' && x.url === route.url)) {
        for (const c of callers) {
          const r = await send('DELETE', base, c.token)
          check(r.status === 404 && r.body === JSON.stringify(NOT_FOUND), `DELETE ${base} as ${c.name} → ${r.status} ${r.body.slice(0, 120)}: expected the bare 404`)
        }
      }
    }
    expect(failures).toEqual([])
    expect(checked).toBe(routes.length * VARIANTS.length * callers.length)
  })
})
