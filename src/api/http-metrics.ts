import type { FastifyInstance } from 'fastify'
import type { Metrics } from '../metrics.ts'

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
