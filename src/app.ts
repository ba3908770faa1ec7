import type { Config } from './config.ts'
import { DetectEngine } from './detect/engine.ts'
import { buildRegistry } from './detect/registry.ts'
import { readRulesText, recordRulesFile, syncRuleBase, type RuleRef } from './detect/rulebase-store.ts'
import { promoteShadow } from './detect/shadow.ts'
import type { Detector } from './detect/types.ts'
import { FundwatchError } from './errors.ts'
import { KnowledgeBase } from './kb/knowledge-base.ts'
import { createLogger, type Logger } from './log.ts'
import { Metrics } from './metrics.ts'
import { Pipeline, type PipelineDeps } from './pipeline/pipeline.ts'
import { PersonCache } from './state/cache.ts'
import { MIGRATIONS, migrate } from './store/migrations.ts'
import { Store } from './store/store.ts'

/**
 * Everything a process role needs, built once from the frozen config and passed
 * down explicitly (no module-level singletons): tests build their own App with
 * their own database, logger stream and metrics registry.
 */
export interface App {
  config: Config
  store: Store
  metrics: Metrics
  log: Logger
  registry: readonly Detector[]
  kb: () => KnowledgeBase
  engine: () => DetectEngine
  setKb(kb: KnowledgeBase): void
  /** The rule-base version the engine was built from (src/detect/rulebase-store.ts); hash '' when none is recorded. */
  rulesInForce(): RuleRef
  /** An engine from rules that are not a recorded version (tests, tools). */
  setRules(rules: unknown): DetectEngine
  /** Swaps in an engine built elsewhere from a version (the rule base validates first, then swaps). */
  setEngine(engine: DetectEngine, version: RuleRef): void
  cache: PersonCache
  pipeline(extra?: Partial<PipelineDeps>): Pipeline
  close(): Promise<void>
}

export interface AppOptions {
  log?: Logger
  metrics?: Metrics
  registry?: readonly Detector[]
  kb?: KnowledgeBase
  rules?: unknown
}

export async function createApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const log = opts.log ?? createLogger({ level: config.logLevel })
  const metrics = opts.metrics ?? new Metrics({ defaultMetrics: true })
  const store = await Store.open({ url: config.clickhouseUrl, dataDir: config.dataDir, database: config.database, cluster: config.cluster })
  if (config.migrate === 'auto') {
    const { applied, rebuilt, notRebuilt } = await migrate(store, undefined, { retention: config.retention })
    if (applied.length) log.info({ applied, rebuilt }, 'migrations applied')
    if (notRebuilt.length) log.warn({ tables: notRebuilt }, 'tables left in their large granules: a cluster\'s are not rebuilt (docs/clickhouse.md "Rebuilding a table")')
  } else {
    await requireCurrentSchema(store).catch(async (err: unknown) => {
      await store.close()
      throw err
    })
  }
  const registry = opts.registry ?? buildRegistry()
  metrics.initLabels({ detectors: registry.map((d) => d.id) })
  let kb = opts.kb ?? (await loadKb(config.kbDir))
  let engine = new DetectEngine(registry, opts.rules ?? {})
  let inForce: RuleRef = { hash: '', text: '' }
  const cache = new PersonCache(store, { maxPersons: config.maxPersons, maxBytes: config.stateMaxMb * 2 ** 20, metrics })
  const app: App = {
    config, store, metrics, log, registry, cache,
    kb: () => kb,
    engine: () => engine,
    rulesInForce: () => inForce,
    setKb(next) { kb = next },
    setRules(rules) {
      engine = new DetectEngine(registry, rules)
      inForce = { hash: '', text: '' }
      return engine
    },
    setEngine(next, version) {
      engine = next
      inForce = version
    },
    pipeline: (extra = {}) => new Pipeline({ store, cache, metrics, log, kb: () => kb, engine: () => engine, decode: { maxBytes: config.maxRecordBytes, maxLines: config.maxLinesPerEvent }, ...extra }),
    close: () => store.close(),
  }
  // The rule base in force is the store's (src/detect/rulebase-store.ts); a
  // rules file only adds a version when its text is new. Rules given in code
  // (tests) are used as they are.
  if (opts.rules === undefined) {
    try {
      if (config.rulesFile) await recordRulesFile(app, config.rulesFile, readRulesText(config.rulesFile))
      await syncRuleBase(app, new Set(), { startup: true })
    } catch (err) {
      await store.close()
      throw err
    }
  } else {
    // Shadow alerts of a detector these rules run live (promoted while no process ran) become live first; the store's versions do this in syncRuleBase.
    for (const p of await promoteShadow(store, undefined, engine)) log.info({ detector: p.detector, alerts: p.alerts }, 'shadow detector promoted: its shadow alerts are live')
  }
  log.info({ store: store.embedded ? `chdb:${config.dataDir}` : 'clickhouse', database: config.database, kb: kb.version, rules: inForce.hash, detectors: engine.active.map((a) => `${a.detector.id}@${a.detector.version}`) }, 'fundwatch ready')
  return app
}

/** The user's knowledge base, or the generated sample when none is given (loaded lazily: it is code, not files). */
export async function loadKb(dir: string | undefined): Promise<KnowledgeBase> {
  if (dir) return (await import('./kb/loader.ts')).loadKnowledgeBase(dir)
  const { sampleKnowledgeBase } = await import('./kb/sample.ts')
  return new KnowledgeBase(sampleKnowledgeBase(), 'sample')
}

/**
 * FUNDWATCH_MIGRATE=false: the roles never change the schema (in Kubernetes
 * the migrate Job does, before the new roles roll out), but a role built for
 * a newer schema than the store has must not start on it — it would fail
 * query by query instead. Read-only: it looks, it creates nothing.
 */
export async function requireCurrentSchema(store: Store): Promise<void> {
  const [table] = await store.query<{ n: string }>('SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {name:String}', { db: store.db, name: 'schema_migrations' })
  const done = Number(table?.n)
    ? new Set((await store.query<{ version: number }>(`SELECT version FROM ${store.t('schema_migrations')} FINAL`)).map((r) => Number(r.version)))
    : new Set<number>()
  const pending = MIGRATIONS.map((m) => m.version).filter((v) => !done.has(v))
  if (pending.length) {
    throw new FundwatchError('SCHEMA_BEHIND', `the store's schema lacks migrations ${pending.join(', ')} that this build needs, and FUNDWATCH_MIGRATE=false: run \`fundwatch migrate\` (the migrate Job) first`)
  }
}
