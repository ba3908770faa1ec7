import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createApp } from '../src/app.ts'
import { configFromEnv } from '../src/config.ts'
import { createGenerator } from '../src/generator/generate.ts'
import { KnowledgeBase } from '../src/kb/knowledge-base.ts'
import { writeKnowledgeBase } from '../src/kb/loader.ts'
import { sampleKnowledgeBase } from '../src/kb/sample.ts'
import { createLogger } from '../src/log.ts'
import { Metrics } from '../src/metrics.ts'
import { decode } from '../src/pipeline/decode.ts'
import { generatorSource } from '../src/pipeline/sources.ts'
import { applyEvent, internedCount, newPerson, prune } from '../src/state/apply.ts'
import { loadPersons, stateBytes } from '../src/state/cache.ts'
import type { PersonState, VisitState } from '../src/state/types.ts'
import type { Figure } from './common.ts'

/**
 * Heap bytes of person state, as the pipeline holds it: a generated month is
 * serialised to the bytes a source delivers, decoded as the pipeline decodes
 * them (JSON.parse + schema: every string a fresh copy, as from Kafka), and
 * applied to state (applyEvent, then prune at the engine's default 30-day
 * window). The heap is measured with the state held and after dropping it.
 * Then, on a state built again, the parts are taken away one after another —
 * its strings (each string field set to ''), the lines, the settlements, the
 * diagnoses and operations, the visits, the persons — and the heap measured
 * after each: what each part holds. Several repeats; medians. The figures
 * set the weights of stateBytes (src/state/cache.ts); `estimate / measured`
 * says how true they are. Last, the same month is stored by the pipeline in
 * chDB and every person's state rebuilt from the rows (loadPersons, as after
 * a restart or an eviction): its heap, measured the same way.
 */
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const PERSONS = Number(process.env.BENCH_STATE_PERSONS ?? 6000)
const REPEATS = Number(process.env.BENCH_STATE_REPEATS ?? 5)
const WINDOW_DAYS = 30

function heap(): number {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

function build(records: Buffer[]): Map<string, PersonState> {
  const persons = new Map<string, PersonState>()
  for (const b of records) {
    const r = decode(b, { maxBytes: 1 << 20, maxLines: 1000, futureToleranceMs: Infinity, now: Date.now })
    if (!r.ok) throw new Error(`generated record refused: ${r.reason}`)
    const ev = r.event
    if (ev.event_type === 'inventory.movement' || !ev.payload.psn_no) continue
    let p = persons.get(ev.payload.psn_no)
    if (!p) persons.set(ev.payload.psn_no, (p = newPerson(ev.payload.psn_no, 'fundwatch.claims.v1/0')))
    applyEvent(p, ev, r.eventTime)
    prune(p, WINDOW_DAYS)
  }
  return persons
}

const visitsOf = (p: PersonState): VisitState[] => [...p.visits.values(), ...p.cancelled.values()]
const EMPTY = new Map<string, never>()
const NONE = Object.freeze([]) as never[]

/** Every own string property of the state's objects set to '' (psn_no and mdtrt_id keys of the Maps stay). */
function blankStrings(o: unknown, seen = new Set<unknown>()): void {
  if (o === null || typeof o !== 'object' || seen.has(o)) return
  seen.add(o)
  if (o instanceof Map) {
    for (const v of o.values()) blankStrings(v, seen)
    return
  }
  if (Array.isArray(o)) {
    for (let i = 0; i < o.length; i++) if (typeof o[i] === 'string') o[i] = ''; else blankStrings(o[i], seen)
    return
  }
  const r = o as Record<string, unknown>
  for (const k of Object.keys(r)) if (typeof r[k] === 'string') r[k] = ''; else blankStrings(r[k], seen)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export async function benchStateFootprint(): Promise<{ figures: Figure[]; raw: Record<string, number> }> {
  const gen = createGenerator({ seed: 42, persons: PERSONS, days: 30, kb: sampleKnowledgeBase() })
  const events = [...gen.events()]
  const records = events.map((ev) => Buffer.from(JSON.stringify(ev)))
  let persons: Map<string, PersonState> | undefined = build(records)
  // Process-wide, not a person's: the codes held once (src/state/apply.ts, intern).
  const count = { persons: persons.size, visits: 0, lines: 0, settlements: 0, diagnoses: 0, estimate: 0, interned: internedCount() }
  for (const p of persons.values()) {
    count.estimate += stateBytes(p)
    for (const v of visitsOf(p)) {
      count.visits++
      count.lines += v.lines.size
      count.settlements += v.settlements.size
      count.diagnoses += v.diagnoses.length
    }
  }
  persons = undefined
  const parts = { total: [] as number[], strings: [] as number[], lines: [] as number[], settlements: [] as number[], diagnoses: [] as number[], visits: [] as number[], persons: [] as number[] }
  for (let i = 0; i < REPEATS; i++) {
    // Whole: held, then dropped.
    persons = build(records)
    const held = heap()
    persons = undefined
    parts.total.push(held - heap())
    // Part by part.
    persons = build(records)
    let before = heap()
    const step = (part: keyof typeof parts, take: () => void) => {
      take()
      const after = heap()
      parts[part].push(before - after)
      before = after
    }
    step('strings', () => blankStrings(persons))
    step('lines', () => { for (const p of persons!.values()) for (const v of visitsOf(p)) v.lines = EMPTY })
    step('settlements', () => { for (const p of persons!.values()) for (const v of visitsOf(p)) v.settlements = EMPTY })
    step('diagnoses', () => { for (const p of persons!.values()) for (const v of visitsOf(p)) { v.diagnoses = NONE; v.operations = NONE } })
    step('visits', () => { for (const p of persons!.values()) { p.visits = EMPTY; p.cancelled = EMPTY } })
    step('persons', () => { persons = undefined })
  }
  // Rebuilt from the store.
  const dataDir = mkdtempSync(join(tmpdir(), 'fw-bench-state-'))
  const loaded: number[] = []
  let loadedPersons = 0
  let loadedEstimate = 0
  try {
    await writeKnowledgeBase(join(dataDir, 'kb'), gen.kb, 'jsonl')
    const config = configFromEnv({ FUNDWATCH_KB: join(dataDir, 'kb'), FUNDWATCH_DATA_DIR: join(dataDir, 'chdb'), FUNDWATCH_DB: 'bench_state', CLICKHOUSE_URL: '' })
    const app = await createApp(config, { log: createLogger({ level: 'warn' }), metrics: new Metrics() })
    try {
      app.setKb(new KnowledgeBase(gen.kb, 'generated'))
      await app.pipeline().run(generatorSource(events, { batchSize: 5000 }), new AbortController().signal)
      const psns = (await app.store.query<{ psn_no: string }>(`SELECT DISTINCT psn_no FROM ${app.store.t('visits')}`)).map((r) => r.psn_no)
      for (let i = 0; i < REPEATS; i++) {
        let held: Map<string, PersonState> | undefined = await loadPersons(app.store, psns, 0, { alerts: false })
        loadedPersons = held.size
        loadedEstimate = [...held.values()].reduce((n, p) => n + stateBytes(p), 0)
        const h = heap()
        held = undefined
        // The async function holds the value it last resumed with (the state) until it resumes again.
        await null
        loaded.push(h - heap())
      }
    } finally {
      await app.close()
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
  const l = median(loaded)

  const m = Object.fromEntries(Object.entries(parts).map(([k, xs]) => [k, median(xs)])) as Record<keyof typeof parts, number>
  const per = (n: number) => Math.round(n / count.persons)
  const figures: Figure[] = [
    { name: `held state (${count.persons} persons, ${count.lines} lines)`, value: Math.round(m.total / 2 ** 10), unit: 'KiB' },
    { name: 'heap per person', value: per(m.total), unit: 'bytes' },
    { name: '  of which strings (unshared copies)', value: per(m.strings), unit: 'bytes' },
    { name: '  of which lines (objects, Map entries)', value: per(m.lines), unit: 'bytes' },
    { name: '  of which settlements', value: per(m.settlements), unit: 'bytes' },
    { name: '  of which diagnoses, operations', value: per(m.diagnoses), unit: 'bytes' },
    { name: '  of which visits (objects, Maps)', value: per(m.visits), unit: 'bytes' },
    { name: '  of which persons', value: per(m.persons), unit: 'bytes' },
    { name: 'per line (strings blanked)', value: Math.round(m.lines / count.lines), unit: 'bytes' },
    { name: 'per settlement (strings blanked)', value: Math.round(m.settlements / count.settlements), unit: 'bytes' },
    { name: 'per diagnosis (strings blanked)', value: Math.round(m.diagnoses / count.diagnoses), unit: 'bytes' },
    { name: 'per visit (strings blanked, no lines)', value: Math.round(m.visits / count.visits), unit: 'bytes' },
    { name: 'stateBytes estimate per person', value: per(count.estimate), unit: 'bytes' },
    { name: 'strings interned (process-wide, not counted above)', value: count.interned, unit: 'strings' },
    { name: 'stateBytes estimate / measured', value: Math.round((count.estimate / m.total) * 100) / 100, unit: '×' },
    { name: `rebuilt from the store (${loadedPersons} persons)`, value: Math.round(l / 2 ** 10), unit: 'KiB' },
    { name: '  heap per person', value: Math.round(l / loadedPersons), unit: 'bytes' },
    { name: '  stateBytes estimate / measured', value: Math.round((loadedEstimate / l) * 100) / 100, unit: '×' },
  ]
  const raw: Record<string, number> = { ...count, repeats: REPEATS, loadedPersons, loadedBytes: l, loadedEstimate, loadedSpread: Math.max(...loaded) - Math.min(...loaded) }
  for (const [k, v] of Object.entries(m)) raw[`${k}Bytes`] = v
  for (const [k, xs] of Object.entries(parts)) raw[`${k}Spread`] = Math.max(...xs) - Math.min(...xs)
  return { figures, raw }
}
