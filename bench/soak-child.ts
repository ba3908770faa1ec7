// The soak's processor (see bench/soak.ts), in a process of its own so that its
// peak RSS is the processor's alone: replays the mixed file into a fresh chDB
// directory, then counts what was stored and dead-lettered, and prints one JSON line.
import { createApp } from '../src/app.ts'
import { replayFile } from '../src/cli/replay.ts'
import { configFromEnv } from '../src/config.ts'
import { createLogger } from '../src/log.ts'
import { Metrics } from '../src/metrics.ts'

const [file, kbDir, dataDir, totalArg, firstArg, stateMb] = process.argv.slice(2) as [string, string, string, string, string, string]
const total = Number(totalArg)
const config = configFromEnv({ FUNDWATCH_KB: kbDir, FUNDWATCH_DATA_DIR: dataDir, FUNDWATCH_DB: 'soak', CLICKHOUSE_URL: '', ...(stateMb ? { FUNDWATCH_STATE_MAX_MB: stateMb } : {}) })
const app = await createApp(config, { log: createLogger({ level: 'error' }), metrics: new Metrics() })
// Resident memory (now, not the peak) at the marks: started, after the first
// `first` records (1M in a full soak), half-way, at the end of the replay.
const mb = (bytes: number) => Math.round(bytes / 2 ** 20)
// With each mark, the person cache's own figures: whether it was full (evicting) by then.
const rss: Record<string, { records: number; rssMb: number; heapMb: number; statePersons: number; stateMb: number; evictions: number }> = {}
const gauge = (g: { get(): Promise<{ values: { value: number }[] }> }) => g.get().then((r) => r.values[0]?.value ?? 0)
const mark = (name: string, records: number) => {
  const m = process.memoryUsage()
  rss[name] = { records, rssMb: mb(m.rss), heapMb: mb(m.heapUsed), statePersons: 0, stateMb: 0, evictions: 0 }
  void Promise.all([gauge(app.metrics.statePersons), gauge(app.metrics.stateBytes), gauge(app.metrics.stateEvictions)]).then(([p, b, e]) => {
    Object.assign(rss[name]!, { statePersons: p, stateMb: mb(b), evictions: e })
  })
}
mark('start', 0)
const first = Number(firstArg)
const r = await replayFile(app, file, {
  onProgress: (_done, _total, sum) => {
    if (!rss.first && sum.records >= first) mark('first', sum.records)
    if (!rss.middle && sum.records >= total / 2) mark('middle', sum.records)
  },
})
mark('end', r.records)
const s = app.store
const one = async (sql: string) => Number(Object.values((await s.query<Record<string, string>>(sql))[0]!)[0])
const storedEvents = await one(`SELECT count() FROM ${s.t('events')} FINAL`)
const distinctStoredIds = await one(`SELECT uniqExact(event_id) FROM ${s.t('events')}`)
const deadLetters = await one(`SELECT count() FROM ${s.t('dead_letters')} FINAL`)
const deadLetterRows = await one(`SELECT uniqExact(dlq_id) FROM ${s.t('dead_letters')}`)
await app.close()
console.log(JSON.stringify({
  valid: r.events, poison: r.rejected, storedEvents, distinctStoredIds, missing: r.events - distinctStoredIds, deadLetters, deadLetterRows,
  poisonByReason: r.rejectedByReason, feeLines: r.feeLines, ms: Math.round(r.ms), maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024), stateMaxMb: config.stateMaxMb, rss,
}))
