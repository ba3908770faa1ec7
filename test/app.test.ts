import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createApp } from '../src/app.ts'
import { configFromEnv } from '../src/config.ts'
import { createLogger } from '../src/log.ts'
import { Metrics } from '../src/metrics.ts'
import { MIGRATIONS, migrate } from '../src/store/migrations.ts'
import { Store } from '../src/store/store.ts'
import { removeDir } from './helpers/app.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'fundwatch-app-'))
afterAll(() => removeDir(dataDir))
const open = (env: Record<string, string>) =>
  createApp(configFromEnv({ FUNDWATCH_DATA_DIR: dataDir, ...env }), { metrics: new Metrics(), log: createLogger({ level: 'silent' }) })
const tables = async (db: string) => {
  const store = await Store.open({ dataDir, database: db })
  try {
    return (await store.query<{ name: string }>('SELECT name FROM system.tables WHERE database = {db:String}', { db })).map((r) => r.name)
  } finally {
    await store.close()
  }
}

describe('FUNDWATCH_MIGRATE: in Kubernetes only the migrate Job migrates', () => {
  it('auto (the default, and the embedded all-in-one): a role creates the tables as it starts', async () => {
    const app = await open({ FUNDWATCH_DB: 'app_auto' })
    await app.close()
    expect(await tables('app_auto')).toEqual(expect.arrayContaining(['schema_migrations', 'events', 'alerts']))
  })

  it('false: a role refuses a store without the schema it needs, and creates nothing', async () => {
    await expect(open({ FUNDWATCH_DB: 'app_none', FUNDWATCH_MIGRATE: 'false' })).rejects.toMatchObject({
      code: 'SCHEMA_BEHIND',
      message: expect.stringMatching(/lacks migrations 1, .*run `fundwatch migrate` \(the migrate Job\) first/),
    })
    expect(await tables('app_none')).toEqual([])
  })

  it('false: one migration missing is refused too; after `fundwatch migrate` the role starts', async () => {
    const store = await Store.open({ dataDir, database: 'app_behind' })
    const last = Math.max(...MIGRATIONS.map((m) => m.version))
    await migrate(store, MIGRATIONS.filter((m) => m.version !== last))
    await expect(open({ FUNDWATCH_DB: 'app_behind', FUNDWATCH_MIGRATE: 'false' })).rejects.toMatchObject({ code: 'SCHEMA_BEHIND', message: expect.stringContaining(`lacks migrations ${last} `) })
    await migrate(store)
    await store.close()
    const app = await open({ FUNDWATCH_DB: 'app_behind', FUNDWATCH_MIGRATE: 'false' })
    await app.close()
  })

  it('refuses a value it does not know', () => {
    expect(() => configFromEnv({ FUNDWATCH_MIGRATE: 'yes' })).toThrow(/migrate/)
  })
})
