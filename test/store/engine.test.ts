import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHDB_SERVER_ARGS, Store } from '../../src/store/store.ts'
import { removeDir } from '../helpers/app.ts'

/**
 * The embedded engine runs with fundwatch's server configuration
 * (CHDB_SERVER_ARGS), not a server's defaults: the first connection to a data
 * directory starts chDB's engine with it, and what it bounds stays bounded.
 */
const dir = mkdtempSync(join(tmpdir(), 'fw-engine-'))
let store: Store

beforeAll(async () => {
  store = await Store.open({ dataDir: join(dir, 'chdb'), database: `engine_${process.pid}` })
})
afterAll(async () => {
  await store?.close()
  removeDir(dir)
})

const metric = async (name: string) => Number((await store.query<{ value: string }>(`SELECT toString(value) AS value FROM system.metrics WHERE metric = {name:String}`, { name }))[0]?.value)

describe('the embedded engine', () => {
  it('starts with every setting of CHDB_SERVER_ARGS', async () => {
    const wanted = Object.fromEntries(CHDB_SERVER_ARGS.map((a) => /^--(\w+)=(.*)$/.exec(a)!.slice(1, 3) as [string, string]))
    expect(Object.keys(wanted).length).toBe(CHDB_SERVER_ARGS.length)
    const rows = await store.query<{ name: string; value: string }>(`SELECT name, value FROM system.server_settings WHERE name IN {names:Array(String)}`, { names: Object.keys(wanted) })
    expect(Object.fromEntries(rows.map((r) => [r.name, r.value]))).toEqual(wanted)
  })

  it('lets threads beyond the idle bound go after a burst (a server keeps up to 1,000)', async () => {
    const bound = Number(/^--max_thread_pool_free_size=(\d+)$/.exec(CHDB_SERVER_ARGS.find((a) => a.startsWith('--max_thread_pool_free_size='))!)![1])
    // Three reads at once, each fanned out over many threads, watched from the store's fourth connection.
    let peak = 0
    let done = false
    const burst = Promise.all([1, 2, 3].map(() => store.query(`SELECT count() FROM numbers_mt(150000000) WHERE sipHash64(number) % 7 = 1 SETTINGS max_threads = 64`))).finally(() => { done = true })
    while (!done) {
      peak = Math.max(peak, await metric('GlobalThread'))
      await new Promise((r) => setTimeout(r, 20))
    }
    await burst
    // The threads beyond the bound exit as their jobs end: a moment, not never (a server's pool keeps them).
    let idle = Infinity
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      idle = (await metric('GlobalThread')) - (await metric('GlobalThreadActive'))
      if (idle <= bound) break
    }
    expect(peak).toBeGreaterThan(bound + 16)
    expect(idle).toBeLessThanOrEqual(bound)
  })
})
