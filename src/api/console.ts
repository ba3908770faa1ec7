import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'

/** Where `vite build web` puts the console. */
export const CONSOLE_DIST = resolve(fileURLToPath(new URL('../../web/dist', import.meta.url)))

/**
 * The console's own paths (it routes on the client with the History API), each
 * answered with index.html so a reload or a pasted link works. Listed rather
 * than caught by a wildcard: a `/*` route would also catch unknown `/api`
 * paths and turn the API's JSON 404 into something else.
 */
export const CONSOLE_ROUTES = ['/', '/alerts/:alert_id', '/cases', '/cases/:case_id', '/detectors', '/institutions', '/dead-letters', '/dead-letters/:dlq_id'] as const

const NOT_BUILT = `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>fundwatch</title>
<body style="font:14px/1.6 system-ui,sans-serif;max-width:640px;margin:10vh auto;padding:0 16px;color:#1d2633">
<h1 style="font-size:18px">控制台尚未构建 · The console is not built</h1>
<p>运行 <code>npm run build:web</code> 后刷新本页。API 仍可使用：<a href="/docs">/docs</a>。</p>
<p>Run <code>npm run build:web</code>, then reload this page. The API works meanwhile: <a href="/docs">/docs</a>.</p>
</body></html>`

export interface ConsoleOptions {
  /** The built console; defaults to web/dist in this checkout. */
  dist?: string
}

/**
 * Serves the built console at `/`. Hashed assets are cached for a year,
 * index.html never (so a new build is picked up on the next load). Whether the
 * console is built is checked per request, so building it while the server
 * runs needs no restart, and a missing build gets a page that says what to do.
 */
export const consolePlugin: FastifyPluginAsync<ConsoleOptions> = async (f, opts) => {
  const dist = opts.dist ?? CONSOLE_DIST
  const built = (): boolean => existsSync(join(dist, 'index.html'))
  if (!built()) f.log.warn({ dist }, 'console not built: run `npm run build:web`; the API is served meanwhile')
  // Only the sendFile decorator: the routes below decide what is served.
  await f.register(fastifyStatic, { root: dist, serve: false, suppressWarning: true })

  const index = (reply: FastifyReply): FastifyReply => {
    if (!built()) return reply.code(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT)
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { maxAge: 0, cacheControl: false })
  }
  // The console's files carry no data (the data comes from /api with a token): public.
  for (const url of CONSOLE_ROUTES) f.get(url, { config: { public: true }, schema: { hide: true } }, (_req, reply) => index(reply))

  f.get<{ Params: { '*': string } }>('/assets/*', { config: { public: true }, schema: { hide: true } }, (req, reply) => {
    if (!built()) return reply.code(404).send({ error: 'NOT_FOUND', message: 'console not built' })
    // Vite names every asset by its content hash: a changed file is a new URL.
    return reply.sendFile(`assets/${req.params['*']}`, { maxAge: 365 * 24 * 3600 * 1000, immutable: true })
  })
}
