import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AnyEvent } from '../schemas/index.ts'
import { buildServer } from '../src/api/server.ts'
import { createApp } from '../src/app.ts'
import { Users } from '../src/auth/users.ts'
import { configFromEnv } from '../src/config.ts'
import { createGenerator } from '../src/generator/generate.ts'
import { KnowledgeBase } from '../src/kb/knowledge-base.ts'
import { writeKnowledgeBase } from '../src/kb/loader.ts'
import { sampleKnowledgeBase } from '../src/kb/sample.ts'
import { createLogger } from '../src/log.ts'
import { Metrics } from '../src/metrics.ts'
import { generatorSource } from '../src/pipeline/sources.ts'
import { DAY_MS } from '../src/util/time.ts'
import type { Figure } from './common.ts'
import { quantile } from './kafka.ts'

const PERSONS = Number(process.env.BENCH_PRECHECK_PERSONS ?? 5000)
const DAYS = 40
const DRAFTS = Number(process.env.BENCH_PRECHECK_DRAFTS ?? 500)

/**
 * 事前提醒's budget (DOMAIN.md): tens of milliseconds, synchronous. A store
 * holds 35 days of a generated population's claims; then the visits of the
 * last 5 days are sent, one by one, as draft claims (visit.opened and fee
 * lines, unsettled) to POST /api/v1/precheck through the real API as a
 * hospital HIS would — each answer loads the person's history from ClickHouse.
 */
export async function benchPrecheck(): Promise<{ figures: Figure[]; raw: Record<string, number> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fw-bench-precheck-'))
  const start = Date.now() - (DAYS + 1) * DAY_MS
  const gen = createGenerator({ seed: 5150, persons: PERSONS, days: DAYS, startTime: start, fraudRate: 0.03, kb: sampleKnowledgeBase() })
  const events = [...gen.events()]
  const cut = start + (DAYS - 5) * DAY_MS
  const history = events.filter((e) => Date.parse(e.event_time) < cut)
  // Drafts: per visit of the last days, its opening and fee lines, before any settlement.
  const byVisit = new Map<string, AnyEvent[]>()
  for (const e of events) {
    if (Date.parse(e.event_time) < cut || (e.event_type !== 'visit.opened' && e.event_type !== 'fee.uploaded')) continue
    const id = e.payload.mdtrt_id
    byVisit.set(id, [...(byVisit.get(id) ?? []), e])
  }
  const drafts = [...byVisit.values()].filter((d) => d[0]!.event_type === 'visit.opened' && d.length > 1).slice(0, DRAFTS)
  const kbDir = join(dataDir, 'kb')
  await writeKnowledgeBase(kbDir, gen.kb, 'jsonl')
  const config = configFromEnv({ FUNDWATCH_KB: kbDir, FUNDWATCH_DATA_DIR: join(dataDir, 'chdb'), FUNDWATCH_DB: 'bench_precheck', CLICKHOUSE_URL: '' })
  const app = await createApp(config, { log: createLogger({ level: 'warn' }), metrics: new Metrics() })
  try {
    app.setKb(new KnowledgeBase(gen.kb, 'generated'))
    const t0 = performance.now()
    await app.pipeline().run(generatorSource(history, { batchSize: 5000 }), new AbortController().signal)
    console.log(`precheck: ${history.length.toLocaleString('en-US')} events of history stored in ${((performance.now() - t0) / 1000).toFixed(1)} s (setup); ${drafts.length} drafts`)
    // Each hospital's HIS has its own token, naming its institution (a precheck token speaks for those only).
    const tokens = new Map<string, string>()
    for (const code of new Set(drafts.map((d) => d[0]!.source.fixmedins_code))) {
      tokens.set(code, (await new Users(app.store).create({ name: `bench HIS ${code}`, role: 'precheck', fixmedins_codes: [code] }, 'cli')).token)
    }
    const server = await buildServer(app, { webDir: false, rateLimitPerMinute: 1_000_000 })
    try {
      const send = (d: AnyEvent[]) => server.inject({ method: 'POST', url: '/api/v1/precheck', headers: { authorization: `Bearer ${tokens.get(d[0]!.source.fixmedins_code)}` }, payload: { events: d } })
      for (const d of drafts.slice(0, 20)) await send(d) // warm-up
      const ms: number[] = []
      let findings = 0
      for (const d of drafts) {
        const t = performance.now()
        const res = await send(d)
        ms.push(performance.now() - t)
        if (res.statusCode !== 200) throw new Error(`precheck answered ${res.statusCode}: ${res.body.slice(0, 300)}`)
        findings += (res.json() as { findings: unknown[] }).findings.length
      }
      ms.sort((a, b) => a - b)
      const p = (q: number) => Math.round(quantile(ms, q) * 10) / 10
      const figures: Figure[] = [
        { name: 'drafts checked (history: 35 days stored)', value: drafts.length, unit: 'drafts' },
        { name: 'drafts with findings', value: findings, unit: 'findings' },
        { name: 'pre-check latency p50', value: p(0.5), unit: 'ms' },
        { name: 'pre-check latency p99', value: p(0.99), unit: 'ms', goal: '< 100 (tens of ms)', met: p(0.99) < 100 },
      ]
      return { figures, raw: { drafts: drafts.length, findings, p50: p(0.5), p95: p(0.95), p99: p(0.99), max: p(1) } }
    } finally {
      await server.close()
    }
  } finally {
    await app.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}
