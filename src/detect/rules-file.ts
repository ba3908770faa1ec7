import { createHash } from 'node:crypto'
import { readFileSync, unwatchFile, watchFile } from 'node:fs'
import { LineCounter, parseDocument } from 'yaml'
import type { Logger } from 'pino'
import type { Metrics } from '../metrics.ts'
import type { Store } from '../store/store.ts'
import { FundwatchError } from '../errors.ts'
import { chTime } from '../util/time.ts'
import { DetectEngine } from './engine.ts'
import { swapEngine, type Promoted } from './shadow.ts'
import type { Detector } from './types.ts'

/**
 * The rule base as a file: parsed (YAML, JSON is YAML too), validated against
 * the rule-base schema and every detector's own parameter schema, with errors
 * that name the line. A valid change swaps the detect engine between batches
 * (a batch never mixes parameter versions) and is recorded in rulebase_changes
 * with who made it and the whole text; an invalid one changes nothing.
 */
/**
 * What a rule-base change needs of the running process: the detectors, the
 * store for the change log, metrics, log, and the engine swap. The app
 * provides it (src/app.ts); detection does not import the app.
 */
export interface RulesTarget {
  registry: readonly Detector[]
  store: Store
  metrics: Pick<Metrics, 'ruleReloads'>
  log: Pick<Logger, 'info' | 'error'>
  engine(): DetectEngine
  setEngine(engine: DetectEngine): void
}

export function parseRules(text: string, registry: readonly Detector[], source = 'rules'): { config: unknown; engine: DetectEngine } {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  if (doc.errors.length) {
    const e = doc.errors[0]!
    const at = lines.linePos(e.pos[0])
    throw new FundwatchError('RULEBASE_INVALID', `${source}:${at.line}:${at.col}: ${e.message.split('\n')[0]}`)
  }
  const config = doc.toJS() ?? {}
  try {
    return { config, engine: new DetectEngine(registry, config) }
  } catch (err) {
    if (!(err instanceof FundwatchError)) throw err
    // The engine names a dotted path (detectors.<id>.params.<name>); point at its line.
    const path = /^(?:rule base: )?([\w.-]+)/.exec(err.message.replace(/^detectors\./, 'detectors.'))?.[1]
    const node = path ? deepestNode(doc, path.split('.')) : undefined
    const line = node?.range ? lines.linePos(node.range[0]).line : undefined
    throw new FundwatchError('RULEBASE_INVALID', `${source}${line ? `:${line}` : ''}: ${err.message}`, { cause: err })
  }
}

function deepestNode(doc: ReturnType<typeof parseDocument>, path: string[]): { range?: [number, number, number] | null } | undefined {
  for (let n = path.length; n > 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] | null } | undefined
    if (node && typeof node === 'object') return node
  }
  return undefined
}

export function rulesHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12)
}

/**
 * Applies a new rule-base text: validates, swaps the engine, records the
 * change. Throws (changing nothing) when invalid. `promoted`: the detectors
 * that went shadow → on, with how many shadow alerts became live (src/detect/shadow.ts).
 */
export async function applyRules(app: RulesTarget, text: string, by: string, source = 'rules'): Promise<{ hash: string; detectors: { id: string; params_hash: string }[]; promoted: Promoted[] }> {
  let engine: DetectEngine
  try {
    engine = parseRules(text, app.registry, source).engine
  } catch (err) {
    app.metrics.ruleReloads.inc({ outcome: 'invalid' })
    throw err
  }
  const hash = rulesHash(text)
  const detectors = engine.active.map((a) => ({ id: a.detector.id, params_hash: a.paramsHash }))
  await app.store.insert('rulebase_changes', [{ hash, at: chTime(Date.now()), by, source, text, detectors: detectors.map((d) => `${d.id}@${d.params_hash}`) }])
  const promoted = await swapEngine(app, engine)
  app.metrics.ruleReloads.inc({ outcome: 'applied' })
  app.log.info({ hash, by, source, detectors: detectors.length }, 'rule base applied')
  return { hash, detectors, promoted }
}

/** Watches the rules file and applies every change; returns a stop function. Polling: works on every filesystem and editor save style. */
export function watchRulesFile(app: RulesTarget, path: string, intervalMs = 1000): () => void {
  let last = safeRead(path)
  const onChange = () => {
    const text = safeRead(path)
    if (text === undefined || text === last) return
    last = text
    applyRules(app, text, `file:${path}`, path).catch((err: unknown) => app.log.error({ err: (err as Error).message }, 'rule base change refused; the previous rules stay in force'))
  }
  watchFile(path, { interval: intervalMs }, onChange)
  return () => unwatchFile(path, onChange)
}

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}
