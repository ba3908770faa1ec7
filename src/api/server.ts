import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify'
import { createJsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import type { App } from '../app.ts'
import { Users } from '../auth/users.ts'
import { FundwatchError } from '../errors.ts'
import { AccessLog } from '../evidence/access-log.ts'
import { CaseService } from '../review/cases.ts'
import { reviewConfig, reviewConfigFromEnv, type ReviewConfig } from '../review/config.ts'
import { ReviewService } from '../review/service.ts'
import { accessControl, limitKey, publicRoutes, recordRoutes } from './access.ts'
import { BODY_LIMIT, jsonBodies } from './body.ts'
import { consolePlugin } from './console.ts'
import { httpMetrics } from './http-metrics.ts'
import { PROBE_PATHS, probeRoutes, storeCheck, type ReadinessCheck } from './probes.ts'
import { UserDirectory, type ApiDeps } from './context.ts'
import { alertsPlugin } from './plugins/alerts.ts'
import { authPlugin } from './plugins/auth.ts'
import { casesPlugin } from './plugins/cases.ts'
import { deadLettersPlugin } from './plugins/dead-letters.ts'
import { detectorsPlugin } from './plugins/detectors.ts'
import { evidencePlugin } from './plugins/evidence.ts'
import { institutionsPlugin } from './plugins/institutions.ts'
import { createLiveFeed, type LiveFeed, type LiveFeedOptions } from './plugins/live.ts'
import { usersPlugin } from './plugins/users.ts'
import { rulesPlugin } from './plugins/rules.ts'
import { backtestPlugin } from './plugins/backtest.ts'
import { precheckPlugin } from './plugins/precheck.ts'
import { nationalFeedbackPlugin } from './plugins/national-feedback.ts'
import { nationalPlugin } from './plugins/national.ts'

export { createLiveFeed, type LiveFeed, type LiveFeedOptions }

export interface ServerOptions {
  /** The live feed whose `sink` the pipeline publishes to; one is created when omitted (then nothing feeds it). */
  live?: LiveFeed
  /** Review deadlines and calendar; default from FUNDWATCH_REVIEW or built-in defaults. */
  review?: ReviewConfig | Record<string, unknown>
  /** Clock for deadlines and records (tests move it). */
  now?: () => number
  /** Built console to serve at / (default web/dist); false = none. */
  webDir?: string | false
  /** Requests per minute per user; per client address for requests without a valid token (failed ones included). */
  rateLimitPerMinute?: number
  /** Open live streams per token, when the live feed is created here (default 5). */
  streamsPerToken?: number
  /** The load balancers whose X-Forwarded-For is believed (default FUNDWATCH_TRUST_PROXY). */
  trustProxy?: string
  /** What /readyz waits for besides the store (a processor: its consumer-group membership). */
  readiness?: readonly ReadinessCheck[]
}

/** The services behind the API, also used by the CLI (evidence export) without a server. */
export function apiDeps(app: App, opts: Pick<ServerOptions, 'live' | 'review' | 'now' | 'streamsPerToken'> = {}): ApiDeps {
  const now = opts.now ?? Date.now
  const review = opts.review === undefined ? reviewConfigFromEnv() : Object.isFrozen(opts.review) ? (opts.review as ReviewConfig) : reviewConfig(opts.review)
  const users = new Users(app.store, { now })
  return {
    app, users, now,
    live: opts.live ?? createLiveFeed(app, { streamsPerToken: opts.streamsPerToken }),
    review: new ReviewService(app.store, review, now),
    cases: new CaseService(app.store, now),
    access: new AccessLog(app.store, now),
    directory: new UserDirectory(users, now),
  }
}

const NOT_FOUND = { error: 'NOT_FOUND', message: 'not found' } as const

/**
 * The HTTP surface. Each area is its own plugin; every route has request and
 * response schemas and declares who may call it (config.public or
 * config.roles, checked on the matched route: see access.ts).
 */
export async function buildServer(app: App, opts: ServerOptions = {}): Promise<FastifyInstance> {
  // No per-request log lines: URLs can carry a token (the SSE stream) and a
  // feed polled all day would drown the pipeline's own logs. Errors are logged.
  const f = Fastify({
    loggerInstance: app.log.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    trustProxy: trustProxy(opts.trustProxy ?? app.config.trustProxy),
    logController: new LogController({ disableRequestLogging: true }),
    // What the router refuses before any route is matched (a malformed
    // percent-escape, a path parameter over the length limit) is answered in
    // the API's error shape, and an over-long parameter like any path that
    // matches no route: the same bare 404 for everyone.
    frameworkErrors: (err, _req, reply) => {
      const r = reply as unknown as FastifyReply
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') r.status(404).send(NOT_FOUND)
      else r.status(400).send({ error: 'BAD_REQUEST', message: 'malformed URL' })
    },
  })
  // First: every route registered from here on passes through it.
  recordRoutes(f)
  httpMetrics(f, app.metrics)
  f.setValidatorCompiler(validatorCompiler)
  f.setSerializerCompiler(serializerCompiler)
  f.setErrorHandler((err, req, reply) => {
    const e = err as { statusCode?: number; validation?: unknown; code?: string; message: string }
    const status = err instanceof FundwatchError ? err.statusCode : (e.statusCode ?? 500)
    if (status >= 500) {
      // The full error goes to the log, never to the client: a store error
      // quotes the query, a response-schema failure can quote the response.
      app.log.error({ err: { type: (err as Error).name, code: e.code, message: String(e.message).slice(0, 500) }, route: req.routeOptions.url }, 'request failed')
      if (err instanceof FundwatchError && status === 503) return reply.status(503).send({ error: err.code, message: 'the store did not answer; try again shortly' })
      return reply.status(500).send({ error: 'INTERNAL', message: 'internal error' })
    }
    if (err instanceof FundwatchError) return reply.status(status).send({ error: err.code, message: err.message })
    const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 429 ? 'RATE_LIMITED' : status === 404 ? 'NOT_FOUND' : status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'FORBIDDEN' : 'BAD_REQUEST'
    return reply.status(status).send({ error: code, message: e.message })
  })
  // Nothing about a path that matches no route: not whether a token would help, not the path.
  f.setNotFoundHandler((_req, reply) => reply.status(404).send(NOT_FOUND))
  jsonBodies(f)

  const deps = apiDeps(app, opts)
  const live = deps.live
  f.addHook('onClose', async () => live.close())

  await f.register(helmet, {
    // The console is served from here; the OpenAPI UI needs its own inline bootstrap (staticCSP below).
    contentSecurityPolicy: { directives: { 'script-src': ["'self'"], 'connect-src': ["'self'"], 'img-src': ["'self'", 'data:'] } },
  })
  // Not attached to routes by the plugin: access control runs it between
  // finding out who calls and refusing them, so failed authentication counts.
  await f.register(rateLimit, {
    global: false,
    max: opts.rateLimitPerMinute ?? 600,
    timeWindow: 60_000,
    keyGenerator: limitKey,
    // The probes are never limited: a kubelet refused with a 429 restarts a healthy pod.
    allowList: (req) => (PROBE_PATHS as readonly string[]).includes(req.routeOptions.url ?? ''),
    errorResponseBuilder: (_req, ctx) => ({ statusCode: 429, error: 'RATE_LIMITED', message: `rate limit: ${ctx.max} requests per minute` }),
  })
  accessControl(f, deps.users, f.rateLimit())

  await f.register(swagger, {
    openapi: {
      info: { title: 'fundwatch API', version: '1', description: 'Alert feed, review workflow, cases and evidence. Bearer tokens; see docs/api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: createJsonSchemaTransform({ zodToJsonConfig: { unrepresentable: 'any' } }),
  })
  // The OpenAPI UI cannot declare its routes public itself: they are marked as it registers them.
  await f.register(publicRoutes(async (p) => { await p.register(swaggerUi, { routePrefix: '/docs', staticCSP: true }) }))

  await f.register(async (p) => {
    const r = p.withTypeProvider<ZodTypeProvider>()
    probeRoutes(p, app, [storeCheck(app), ...(opts.readiness ?? [])])
    r.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => {
      reply.header('content-type', app.metrics.registry.contentType)
      return app.metrics.registry.metrics()
    })
  })

  for (const plugin of [authPlugin, alertsPlugin, live.plugin, casesPlugin, evidencePlugin, detectorsPlugin, institutionsPlugin, usersPlugin, rulesPlugin, backtestPlugin, precheckPlugin, nationalPlugin, nationalFeedbackPlugin, deadLettersPlugin]) {
    await f.register(plugin, { deps })
  }

  // The console (web/dist): its own client-side paths and hashed assets; see src/api/console.ts.
  if (opts.webDir !== false) await f.register(consolePlugin, { dist: opts.webDir })
  return f
}

/** FUNDWATCH_TRUST_PROXY as fastify takes it: unset = trust no forwarded header (req.ip is the peer). */
export function trustProxy(v: string | undefined): FastifyServerOptions['trustProxy'] {
  if (v === undefined) return false
  return v === 'true' ? true : v
}
