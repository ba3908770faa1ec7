import { configFromEnv } from '../config.ts'
import { migrate } from '../store/migrations.ts'
import { Store } from '../store/store.ts'
import type { CommonFlags } from './common.ts'

export async function migrateCmd(flags: CommonFlags): Promise<number> {
  const config = configFromEnv(process.env, { dataDir: flags['data-dir'] })
  const store = await Store.open({ url: config.clickhouseUrl, dataDir: config.dataDir, database: config.database, cluster: config.cluster })
  try {
    const { applied, current, retention, rebuilt, notRebuilt } = await migrate(store, undefined, { retention: config.retention })
    console.log(applied.length ? `applied migrations ${applied.join(', ')}; schema at version ${current}` : `schema already at version ${current}`)
    if (rebuilt.length) console.log(`rebuilt in small granules: ${rebuilt.join(', ')}`)
    if (notRebuilt.length) console.log(`left in their large granules (a cluster's are not rebuilt: docs/clickhouse.md "Rebuilding a table"): ${notRebuilt.join(', ')}`)
    if (retention.length) console.log(`retention set: ${retention.map((k) => `${k} ${config.retention[k as keyof typeof config.retention] || 'for ever'}${config.retention[k as keyof typeof config.retention] ? ' days' : ''}`).join(', ')}`)
    return 0
  } finally {
    await store.close()
  }
}
