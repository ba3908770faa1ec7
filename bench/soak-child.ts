// The soak's processor (see bench/soak.ts), in a process of its own so that its
// peak RSS is the processor's alone: replays the mixed file into a fresh chDB
// directory, then counts what was stored and dead-lettered, and prints one JSON line.
import { readFileSync } from 'node:fs'
import { getHeapStatistics } from 'node:v8'
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

/**
 * What RSS is made of, for finding native growth (issue 13): the kernel's split
 * of resident memory (anonymous, file-backed, shared), V8's own figures, and
 * glibc malloc's arenas read from /proc/self/smaps. chDB's libchdb.so brings no
 * allocator of its own (it imports malloc from glibc), so its threads allocate
 * from glibc arenas: the main one grows the brk `[heap]`; every other arena is
 * built of 64 MiB heaps, each an anonymous mapping aligned to 64 MiB whose
 * unused tail is PROT_NONE (glibc's HEAP_MAX_SIZE on 64-bit). Counting those
 * heaps and their resident bytes shows how much memory the arenas hold.
 */
export interface MemorySample {
  records: number
  feeLines: number
  ms: number
  /** CPU time (user + system, all threads) since the replay started: a cost less swayed than `ms` by other work on the machine. */
  cpuMs: number
  rssMb: number
  rssAnonMb: number
  rssFileMb: number
  rssShmemMb: number
  heapUsedMb: number
  /** V8's heap as committed (heapTotal) and as resident (total_physical_size): what the JavaScript heap costs in RSS, used or not. */
  heapTotalMb: number
  v8PhysicalMb: number
  externalMb: number
  arrayBuffersMb: number
  threads: number
  /** glibc non-main arena heaps (64 MiB reservations) and the resident MiB in them. */
  arenaHeaps: number
  arenaRssMb: number
  /** The main arena's brk heap, resident MiB. */
  brkHeapRssMb: number
  /** Anonymous RSS outside V8's heap (RssAnon − V8's resident heap), and the part of it not in glibc's arenas (direct mmaps, thread stacks). */
  nativeAnonMb: number
  otherNativeMb: number
  /** chDB's own view (system.metrics): its memory tracker, its global thread pool (threads held, and busy), its caches, the primary keys held in memory; and its active parts and merges under way. */
  chdb?: Record<string, number>
}
/** What chDB says about its memory and threads at a sample (embedded store). */
const CHDB_METRICS = ['MemoryTracking', 'GlobalThread', 'GlobalThreadActive', 'MarkCacheBytes', 'PrimaryIndexCacheBytes', 'QueryConditionCacheBytes', 'CompiledExpressionCacheBytes', 'IndexMarkCacheBytes']
async function chdbFigures(): Promise<Record<string, number>> {
  const s = app.store
  const rows = await s.query<{ metric: string; value: string }>(`SELECT metric, toString(value) AS value FROM system.metrics WHERE metric IN {m:Array(String)}
    UNION ALL SELECT 'PrimaryKeyBytesInMemory', toString(sum(primary_key_bytes_in_memory_allocated)) FROM system.parts WHERE active
    UNION ALL SELECT 'ActiveParts', toString(count()) FROM system.parts WHERE active
    UNION ALL SELECT 'Merges', toString(count()) FROM system.merges`, { m: CHDB_METRICS })
  return Object.fromEntries(rows.map((r) => [r.metric, /Bytes|Tracking/.test(r.metric) ? mb(Number(r.value)) : Number(r.value)]))
}
const ARENA_HEAP = 64 * 2 ** 20
const statusField = (status: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
function arenas(): { heaps: number; rssKb: number; brkKb: number } {
  const maps: { start: bigint; end: bigint; perms: string; anon: boolean; path: string; rssKb: number }[] = []
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)$/.exec(line)
    if (head) maps.push({ start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3]!, anon: head[4] === '0' && !head[5], path: head[5] ?? '', rssKb: 0 })
    else if (line.startsWith('Rss:') && maps.length) maps.at(-1)!.rssKb = Number(/(\d+)/.exec(line)?.[1] ?? 0)
  }
  let heaps = 0
  let rssKb = 0
  let brkKb = 0
  const size = BigInt(ARENA_HEAP)
  for (const [i, m] of maps.entries()) {
    if (m.path === '[heap]') brkKb += m.rssKb
    if (!m.anon || !m.perms.startsWith('rw') || m.start % size !== 0n) continue
    const next = maps[i + 1]
    const whole = m.end - m.start === size || (next !== undefined && next.anon && next.perms.startsWith('---') && next.start === m.end && next.end - m.start === size)
    if (!whole) continue
    heaps++
    rssKb += m.rssKb
  }
  return { heaps, rssKb, brkKb }
}
const t0 = performance.now()
const cpu0 = process.cpuUsage()
const samples: MemorySample[] = []
const sample = (records: number, feeLines: number) => {
  const m = process.memoryUsage()
  const status = readFileSync('/proc/self/status', 'utf8')
  const a = arenas()
  const anonKb = statusField(status, 'RssAnon')
  const v8Physical = getHeapStatistics().total_physical_size
  samples.push({
    records, feeLines, ms: Math.round(performance.now() - t0), cpuMs: (({ user, system }) => Math.round((user + system) / 1000))(process.cpuUsage(cpu0)),
    rssMb: mb(m.rss), rssAnonMb: mb(anonKb * 1024), rssFileMb: mb(statusField(status, 'RssFile') * 1024), rssShmemMb: mb(statusField(status, 'RssShmem') * 1024),
    heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), v8PhysicalMb: mb(v8Physical), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers), threads: statusField(status, 'Threads'),
    arenaHeaps: a.heaps, arenaRssMb: mb(a.rssKb * 1024), brkHeapRssMb: mb(a.brkKb * 1024),
    nativeAnonMb: mb(anonKb * 1024 - v8Physical), otherNativeMb: mb((anonKb - a.rssKb - a.brkKb) * 1024 - v8Physical),
  })
  // chDB's figures come a moment later (a query); the sample is printed with them,
  // on stderr as it goes, so a long soak can be watched (stdout carries only the report).
  const taken = samples.at(-1)!
  pending.push(chdbFigures().then((c) => { taken.chdb = c }, () => undefined).then(() => { process.stderr.write(`soak sample ${JSON.stringify(taken)}\n`) }))
}
const pending: Promise<void>[] = []
mark('start', 0)
sample(0, 0)
const first = Number(firstArg)
/** A memory sample every this many records: 250k in a full soak, four before the first mark in a smaller one. */
const SAMPLE_EVERY = Math.max(1, Math.min(250_000, Math.floor(first / 4)))
const r = await replayFile(app, file, {
  onProgress: (_done, _total, sum) => {
    if (!rss.first && sum.records >= first) mark('first', sum.records)
    if (!rss.middle && sum.records >= total / 2) mark('middle', sum.records)
    if (sum.records >= (samples.at(-1)!.records - (samples.at(-1)!.records % SAMPLE_EVERY)) + SAMPLE_EVERY) sample(sum.records, sum.feeLines)
  },
})
mark('end', r.records)
sample(r.records, r.feeLines)
await Promise.all(pending)
const s = app.store
const one = async (sql: string) => Number(Object.values((await s.query<Record<string, string>>(sql))[0]!)[0])
const storedEvents = await one(`SELECT count() FROM ${s.t('events')} FINAL`)
const distinctStoredIds = await one(`SELECT uniqExact(event_id) FROM ${s.t('events')}`)
const deadLetters = await one(`SELECT count() FROM ${s.t('dead_letters')} FINAL`)
const deadLetterRows = await one(`SELECT uniqExact(dlq_id) FROM ${s.t('dead_letters')}`)
await app.close()
console.log(JSON.stringify({
  valid: r.events, poison: r.rejected, storedEvents, distinctStoredIds, missing: r.events - distinctStoredIds, deadLetters, deadLetterRows,
  poisonByReason: r.rejectedByReason, feeLines: r.feeLines, ms: Math.round(r.ms), maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024), stateMaxMb: config.stateMaxMb, rss, samples,
}))
