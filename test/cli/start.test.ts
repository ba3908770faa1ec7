import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { removeDir } from '../helpers/app.ts'

/**
 * `npm start` as a newcomer runs it: `fundwatch start` in a process of its
 * own, on an empty data directory. Its banner must give a working console
 * link; the API must then serve alerts of the streaming detectors and of the
 * audit stage over the generated history, /metrics must show events flowing,
 * and SIGTERM must stop it cleanly.
 */
const root = join(import.meta.dirname, '../..')
const dir = mkdtempSync(join(tmpdir(), 'fw-start-'))
afterAll(() => removeDir(dir))

interface FeedItem { detector: { id: string }; stage: string }

describe('fundwatch start', () => {
  it('serves alerts from streaming and audit detectors, metrics, and stops cleanly on SIGTERM', async () => {
    const t0 = performance.now()
    const child = spawn(process.execPath, [join(root, 'bin/fundwatch.mjs'), 'start', '--data-dir', join(dir, 'data'), '--port', '0', '--seed', '11'], {
      cwd: root, env: { ...process.env, CLICKHOUSE_URL: '', LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (b: Buffer) => { out += b.toString() })
    child.stderr.on('data', (b: Buffer) => { out += b.toString() })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      const poll = async <T>(what: string, get: () => Promise<T | undefined>, timeoutMs: number): Promise<T> => {
        const deadline = Date.now() + timeoutMs
        for (;;) {
          if (child.exitCode !== null) throw new Error(`fundwatch start exited (${child.exitCode}) while waiting for ${what}:\n${out}`)
          const v = await get()
          if (v !== undefined) return v
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${out}`)
          await new Promise((r) => setTimeout(r, 250))
        }
      }
      const [address, token] = await poll('the banner', async () => {
        const m = /running at (http:\/\/\S+)[\s\S]*#token=(\S+)/.exec(out)
        return m ? [m[1]!, m[2]!] as const : undefined
      }, 60_000)
      const get = async (path: string) => fetch(`${address}${path}`, { headers: { authorization: `Bearer ${token}` } })

      const wanted = ['duplicate-charge', 'restricted-item', 'split-hospitalization']
      const seen = await poll('alerts of the three first detectors', async () => {
        const items = ((await (await get('/api/v1/alerts?limit=500')).json()) as { alerts: FeedItem[] }).alerts
        const ids = new Set(items.map((a) => a.detector.id))
        return wanted.every((id) => ids.has(id)) ? ids : undefined
      }, 90_000)
      const firstAlertsMs = Math.round(performance.now() - t0)
      const post = await poll('audit alerts', async () => {
        const items = ((await (await get('/api/v1/alerts?stage=post&limit=100')).json()) as { alerts: FeedItem[] }).alerts
        return items.length > 0 ? items : undefined
      }, 90_000)
      console.log(`fundwatch start: alerts of ${seen.size} detectors ${firstAlertsMs} ms after spawn; ${post.length} audit alerts`)
      expect(post.every((a) => a.stage === 'post')).toBe(true)
      expect(seen.size).toBeGreaterThanOrEqual(wanted.length)

      const metrics = await (await fetch(`${address}/metrics`)).text()
      const fee = /fundwatch_events_in_total\{type="fee\.uploaded"\} (\d+)/.exec(metrics)
      expect(Number(fee?.[1] ?? 0)).toBeGreaterThan(0)
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
  }, 240_000)
})
