import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Store } from '../../src/store/store.ts'
import { removeDir } from '../helpers/app.ts'

/**
 * The embedded store holds several chDB connections to its data directory
 * (src/store/chdb-pool.ts): a statement that takes long does not hold up the
 * next one, as it would on chDB's one-query-at-a-time connection.
 */
const dir = mkdtempSync(join(tmpdir(), 'fw-pool-'))
const database = `pool_${process.pid}`
let store: Store

beforeAll(async () => {
  store = await Store.open({ dataDir: join(dir, 'chdb'), database })
  await store.command(`CREATE TABLE ${database}.t (id UInt32) ENGINE = MergeTree ORDER BY id`)
})
afterAll(async () => {
  await store?.close()
  removeDir(dir)
})

describe('embedded connections', () => {
  it('answer a short read while a long insert is still running, and the insert still lands whole', async () => {
    let insertDone = false
    // About 2 s of chDB's time: sleepEachRow holds the statement on its connection.
    const insert = store.command(`INSERT INTO ${database}.t SELECT number FROM numbers(8) WHERE sleepEachRow(0.25) = 0 SETTINGS max_block_size = 1`).then(() => { insertDone = true })
    await new Promise((r) => setTimeout(r, 200))
    const read = await store.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${database}.t WHERE id < {max:UInt32}`, { max: 100 })
    expect(insertDone).toBe(false)
    expect(read).toEqual([{ n: '0' }])
    await insert
    expect(await store.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${database}.t`)).toEqual([{ n: '8' }])
  })

  it('run parameterised statements side by side too (their values bound in the SQL text, src/store/literals.ts)', async () => {
    let slowDone = false
    const slow = store.query(`SELECT count() FROM numbers(8) WHERE sleepEachRow(0.25) = 0 AND number < {n:UInt32} SETTINGS max_block_size = 1`, { n: 100 }).then(() => { slowDone = true })
    await new Promise((r) => setTimeout(r, 200))
    expect(await store.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${database}.t WHERE id < {max:UInt32}`, { max: 4 })).toEqual([{ n: '4' }])
    expect(slowDone).toBe(false)
    await slow
  })

  it('are one connection when asked for one: the read then waits for the insert', async () => {
    const one = await Store.open({ dataDir: join(dir, 'chdb'), database, connections: 1 })
    try {
      let insertDone = false
      const insert = one.command(`INSERT INTO ${database}.t SELECT number + 100 FROM numbers(4) WHERE sleepEachRow(0.25) = 0 SETTINGS max_block_size = 1`).then(() => { insertDone = true })
      await new Promise((r) => setTimeout(r, 200))
      await one.query(`SELECT 1`)
      expect(insertDone).toBe(true)
      await insert
    } finally {
      await one.close()
    }
  })
})
