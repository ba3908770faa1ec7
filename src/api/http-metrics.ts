import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { App } from '../app.ts'
import type { Metrics } from '../metrics.ts'
import { probeRoutes, storeCheck, type ReadinessCheck } from './probes.ts'

/**
 * Counts and times every answered request by method, route template and
 * status class. The route is the matched template (/api/v1/alerts/:id), never
 * the URL: ids and query strings would make a series per request. Requests
 * that match no route share one label value, whatever their path.
 */
export function httpMetrics(f: FastifyInstance, metrics: Metrics): void {
  f.addHook('onResponse', async (req, reply) => {
    metrics.httpSeconds.observe({
      method: req.method,
      route: req.routeOptions.url ?? UNMATCHED,
      status_class: `${Math.floor(reply.statusCode / 100)}xx`,
    }, reply.elapsedTime / 1000)
  })
}

export const UNMATCHED = '(unmatched)'

/**
 * What a processor serves when METRICS_PORT is set: /metrics and the probes
 * (/livez, /readyz, /healthz; see probes.ts), nothing else — no API, no
 * console, no login surface on a worker.
 */
export async function buildProbeServer(app: App, opts: { readiness?: readonly ReadinessCheck[] } = {}): Promise<FastifyInstance> {
  const f = Fastify({ loggerInstance: app.log.child({ component: 'probe' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) })
  httpMetrics(f, app.metrics)
  probeRoutes(f, app, [storeCheck(app), ...(opts.readiness ?? [])])
  f.get('/metrics', async (_req, reply) => {
    reply.header('content-type', app.metrics.registry.contentType)
    return app.metrics.registry.metrics()
  })
  f.setNotFoundHandler((_req, reply) => reply.status(404).send({ error: 'NOT_FOUND', message: 'not found' }))
  return f
}
