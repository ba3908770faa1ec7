import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONSOLE_ROUTES, consolePlugin } from '../../src/api/console.ts'
import { removeDir } from '../helpers/app.ts'

// What serving the console must get right, on a hand-made dist: every console
// path answers with index.html, hashed assets are cached for good, nothing
// outside the console is captured, and an unbuilt console says how to build it.

let dir: string
let f: FastifyInstance
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fw-console-'))
  mkdirSync(join(dir, 'assets'))
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title><script type="module" src="/assets/index-abc123.js"></script>')
  writeFileSync(join(dir, 'assets/index-abc123.js'), 'console.log(1)')
  f = Fastify()
  await f.register(consolePlugin, { dist: dir })
  // The API's own routes and 404 live beside it and must stay untouched.
  f.get('/api/v1/me', async () => ({ ok: true }))
})
afterAll(async () => {
  await f?.close()
  if (dir) removeDir(dir)
})

describe('console plugin', () => {
  it('answers every console path with index.html, never cached', async () => {
    for (const url of ['/', '/alerts/0123456789abcdef0123456789abcdef', '/cases', '/cases/C20260301-ab12cd34', '/detectors', '/institutions', '/cases?status=closed']) {
      const res = await f.inject({ url })
      expect(res.statusCode, url).toBe(200)
      expect(res.headers['content-type']).toMatch(/^text\/html/)
      expect(res.headers['cache-control']).toBe('no-cache')
      expect(res.body).toContain('<title>console</title>')
    }
    expect(CONSOLE_ROUTES).toContain('/alerts/:alert_id')
  })

  it('serves hashed assets with long-lived caching and refuses paths out of the dist', async () => {
    const js = await f.inject({ url: '/assets/index-abc123.js' })
    expect(js.statusCode).toBe(200)
    expect(js.headers['content-type']).toMatch(/javascript/)
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect((await f.inject({ url: '/assets/missing.js' })).statusCode).toBe(404)
    expect([403, 404]).toContain((await f.inject({ url: '/assets/..%2F..%2Fetc%2Fpasswd' })).statusCode)
    expect((await f.inject({ url: '/assets/..%2Findex.html' })).body).not.toContain('<title>console</title>')
  })

  it('leaves other paths to the server: API routes and its 404', async () => {
    expect((await f.inject({ url: '/api/v1/me' })).json()).toEqual({ ok: true })
    const missing = await f.inject({ url: '/api/v1/nope' })
    expect(missing.statusCode).toBe(404)
    expect(missing.body).not.toContain('<title>console</title>')
    expect((await f.inject({ url: '/somewhere/else' })).statusCode).toBe(404)
  })

  it('says how to build the console when it is not built', async () => {
    const empty = Fastify()
    await empty.register(consolePlugin, { dist: join(dir, 'not-built') })
    const res = await empty.inject({ url: '/cases' })
    expect(res.statusCode).toBe(503)
    expect(res.body).toContain('npm run build:web')
    expect(res.body).toContain('控制台尚未构建')
    await empty.close()
  })
})
