import { createHash } from 'node:crypto'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { createJsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { App } from '../app.ts'
import { Users } from '../auth/users.ts'
import { FundwatchError } from '../errors.ts'
import { AccessLog } from '../evidence/access-log.ts'
import { CaseService } from '../review/cases.ts'
import { reviewConfig, reviewConfigFromEnv, type ReviewConfig } from '../review/config.ts'
import { ReviewService } from '../review/service.ts'
import { consolePlugin } from './console.ts'
import { UserDirectory, type ApiDeps } from './context.ts'
import { alertsPlugin } from './plugins/alerts.ts'
import { authHook, authPlugin } from './plugins/auth.ts'
import { casesPlugin } from './plugins/cases.ts'
import { detectorsPlugin } from './plugins/detectors.ts'
import { evidencePlugin } from './plugins/evidence.ts'
import { institutionsPlugin } from './plugins/institutions.ts'
import { createLiveFeed, type LiveFeed } from './plugins/live.ts'
import { usersPlugin } from './plugins/users.ts'
import { rulesPlugin } from './plugins/rules.ts'
import { precheckPlugin } from './plugins/precheck.ts'

export { createLiveFeed, type LiveFeed }

export interface ServerOptions {
  /** The live feed whose `sink` the pipeline publishes to; one is created when omitted (then nothing feeds it). */
  live?: LiveFeed
  /** Review deadlines and calendar; default from FUNDWATCH_REVIEW or built-in defaults. */
  review?: ReviewConfig | Record<string, unknown>
  /** Clock for deadlines and records (tests move it). */
  now?: () => number
  /** Built console to serve at / (default web/dist); false = none. */
  webDir?: string | false
  /** Requests per minute per token (per IP without one). */
  rateLimitPerMinute?: number
}

/** The services behind the API, also used by the CLI (evidence export) without a server. */
export function apiDeps(app: App, opts: Pick<ServerOptions, 'live' | 'review' | 'now'> = {}): ApiDeps {
  const now = opts.now ?? Date.now
  const review = opts.review === undefined ? reviewConfigFromEnv() : Object.isFrozen(opts.review) ? (opts.review as ReviewConfig) : reviewConfig(opts.review)
  const users = new Users(app.store, { now })
  return {
    app, users, now,
    live: opts.live ?? createLiveFeed(app),
    review: new ReviewService(app.store, review, now),
    cases: new CaseService(app.store, now),
    access: new AccessLog(app.store, now),
    directory: new UserDirectory(users, now),
  }
}

/** The HTTP surface. Each area is its own plugin; every route has request and response schemas. */
export async function buildServer(app: App, opts: ServerOptions = {}): Promise<FastifyInstance> {
  // No per-request log lines: URLs can carry a token (the SSE stream) and a
  // feed polled all day would drown the pipeline's own logs. Errors are logged.
  const f = Fastify({
    loggerInstance: app.log.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    logController: new LogController({ disableRequestLogging: true }),
  })
  f.setValidatorCompiler(validatorCompiler)
  f.setSerializerCompiler(serializerCompiler)
  f.setErrorHandler((err, _req, reply) => {
    if (err instanceof FundwatchError) return reply.status(err.statusCode).send({ error: err.code, message: err.message })
    const e = err as { statusCode?: number; validation?: unknown; code?: string; message: string }
    const status = e.statusCode ?? 500
    if (status >= 500) {
      // The cause of a response-schema failure can quote the response; log only its shape.
      app.log.error({ err: { type: (err as Error).name, code: e.code, message: String(e.message).slice(0, 300) } }, 'request failed')
      return reply.status(500).send({ error: 'INTERNAL', message: 'internal error' })
    }
    const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 429 ? 'RATE_LIMITED' : status === 404 ? 'NOT_FOUND' : status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'FORBIDDEN' : 'BAD_REQUEST'
    return reply.status(status).send({ error: code, message: e.message })
  })

  const deps = apiDeps(app, opts)
  const live = deps.live
  f.addHook('onClose', async () => live.close())

  await f.register(helmet, {
    // The console is served from here; the OpenAPI UI needs its own inline bootstrap (staticCSP below).
    contentSecurityPolicy: { directives: { 'script-src': ["'self'"], 'connect-src': ["'self'"], 'img-src': ["'self'", 'data:'] } },
  })
  await f.register(rateLimit, {
    max: opts.rateLimitPerMinute ?? 600,
    timeWindow: 60_000,
    keyGenerator: (req) => {
      const h = req.headers.authorization
      return typeof h === 'string' ? createHash('sha256').update(h).digest('hex').slice(0, 24) : req.ip
    },
    errorResponseBuilder: (_req, ctx) => ({ statusCode: 429, error: 'RATE_LIMITED', message: `rate limit: ${ctx.max} requests per minute` }),
  })
  await f.register(swagger, {
    openapi: {
      info: { title: 'fundwatch API', version: '1', description: 'Alert feed, review workflow, cases and evidence. Bearer tokens; see docs/api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: createJsonSchemaTransform({ zodToJsonConfig: { unrepresentable: 'any' } }),
  })
  await f.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })

  // Not encapsulated: the auth hook must cover every plugin registered after it.
  await authHook(deps)(f)

  await f.register(async (p) => {
    const r = p.withTypeProvider<ZodTypeProvider>()
    r.get('/healthz', { schema: { hide: true, response: { 200: z.object({ status: z.literal('ok'), store: z.string(), kb: z.string() }) } } }, async () => {
      await app.store.query('SELECT 1')
      return { status: 'ok' as const, store: app.store.embedded ? 'chdb' : 'clickhouse', kb: app.kb().version }
    })
    r.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      reply.header('content-type', app.metrics.registry.contentType)
      return app.metrics.registry.metrics()
    })
  })

  for (const plugin of [authPlugin, alertsPlugin, live.plugin, casesPlugin, evidencePlugin, detectorsPlugin, institutionsPlugin, usersPlugin, rulesPlugin, precheckPlugin]) {
    await f.register(plugin, { deps })
  }

  // The console (web/dist): its own client-side paths and hashed assets; see src/api/console.ts.
  if (opts.webDir !== false) await f.register(consolePlugin, { dist: opts.webDir })
  f.setNotFoundHandler((req, reply) => reply.status(404).send({ error: 'NOT_FOUND', message: `${req.method} ${req.url.split('?')[0]} not found` }))
  return f
}
