// The soak's processor (see bench/soak.ts), in a process of its own so that its
// peak RSS is the processor's alone: replays the mixed file into a fresh chDB
// directory, then counts what was stored and dead-lettered, and prints one JSON line.
import { createApp } from '../src/app.ts'
import { replayFile } from '../src/cli/replay.ts'
import { configFromEnv } from '../src/config.ts'
import { createLogger } from '../src/log.ts'
import { Metrics } from '../src/metrics.ts'

const [file, kbDir, dataDir] = process.argv.slice(2) as [string, string, string]
const config = configFromEnv({ FUNDWATCH_KB: kbDir, FUNDWATCH_DATA_DIR: dataDir, FUNDWATCH_DB: 'soak', CLICKHOUSE_URL: '' })
const app = await createApp(config, { log: createLogger({ level: 'error' }), metrics: new Metrics() })
const r = await replayFile(app, file)
const s = app.store
const one = async (sql: string) => Number(Object.values((await s.query<Record<string, string>>(sql))[0]!)[0])
const storedEvents = await one(`SELECT count() FROM ${s.t('events')} FINAL`)
const distinctStoredIds = await one(`SELECT uniqExact(event_id) FROM ${s.t('events')}`)
const deadLetters = await one(`SELECT count() FROM ${s.t('dead_letters')} FINAL`)
const deadLetterRows = await one(`SELECT uniqExact(dlq_id) FROM ${s.t('dead_letters')}`)
await app.close()
console.log(JSON.stringify({
  valid: r.events, poison: r.rejected, storedEvents, distinctStoredIds, missing: r.events - distinctStoredIds, deadLetters, deadLetterRows,
  poisonByReason: r.rejectedByReason, feeLines: r.feeLines, ms: Math.round(r.ms), maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
}))
