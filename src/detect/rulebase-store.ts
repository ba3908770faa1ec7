import { readFileSync, unwatchFile, watchFile } from 'node:fs'
import type { Logger } from 'pino'
import type { Metrics } from '../metrics.ts'
import type { Store } from '../store/store.ts'
import { FundwatchError } from '../errors.ts'
import { chTime } from '../util/time.ts'
import type { DetectEngine } from './engine.ts'
import { parseRules, rulesHash } from './rules-file.ts'
import { promoteShadow, type Promoted } from './shadow.ts'
import type { Detector } from './types.ts'

/**
 * The versioned rule base (规则库): `rulebase_changes` is its history and the
 * source of truth. A change is one appended row holding the whole text; a
 * revert appends an earlier version's text again; nothing is ever updated.
 * The version in force is the latest row by (at, hash), the same on every
 * processor and API replica: each polls it between batches
 * (FUNDWATCH_RULES_POLL_MS), validates it, swaps its engine (the pipeline
 * takes the engine once per batch, so a batch never mixes versions), logs
 * `rule base in force` with the hash and sets fundwatch_rulebase_info{hash}.
 *
 * A version this build cannot run (written by a newer build, or naming a
 * detector this one lacks) is never swapped in: the process keeps the engine
 * it has, logs the refusal and counts fundwatch_rulebase_reloads_total
 * {outcome="invalid"} once per version. At start-up there is no engine to
 * keep, so the newest version this build can run is taken instead.
 *
 * A rules file (FUNDWATCH_RULES) is an input, not the truth: its text becomes
 * a new version only when that exact text (its hash) was never recorded —
 * a first start, or an edit of the file — so a replica restarting with an old
 * file never overrides a newer change made through the API or the CLI.
 */

/** The version a process runs: its hash and text; both '' when none is recorded (every detector with defaults, or rules a test set). */
export interface RuleRef { hash: string; text: string }

/** One recorded version (a row of rulebase_changes). */
export interface RuleVersion {
  hash: string
  at: string
  by: string
  source: string
  reason: string
  parent: string
  text: string
  detectors: string[]
}

/** Who made a change and why; source: api, revert, cli, file. */
export interface ChangeOrigin {
  by: string
  source: string
  reason: string
  /**
   * The version the change was made against (the hash the editor read; '' =
   * none recorded). When given, a change made against anything but the latest
   * recorded version is refused (CONFLICT), so two admins editing at once
   * cannot silently undo each other's change, whichever replica each reaches.
   */
  expected?: string
}

/**
 * What the rule base needs of the running process: the detectors, the store,
 * metrics, log, and the engine swap. The app provides it (src/app.ts);
 * detection does not import the app.
 */
export interface RulesTarget {
  registry: readonly Detector[]
  store: Store
  metrics: Pick<Metrics, 'ruleReloads' | 'ruleBaseInfo'>
  log: Pick<Logger, 'info' | 'error' | 'warn'>
  engine(): DetectEngine
  /** The version this process runs. */
  rulesInForce(): RuleRef
  setEngine(engine: DetectEngine, version: RuleRef): void
}

/** Most a reason may say (the API and the CLI refuse longer). */
export const REASON_MAX = 500

const COLUMNS = `hash, toString(at) AS at, by, source, reason, parent, text, detectors`
/** The order that decides which version is in force: the same on every replica. */
const NEWEST_FIRST = 'ORDER BY at DESC, hash DESC'

/** The version in force in the store (the latest recorded), or undefined when none is recorded. */
export async function latestVersion(store: RulesTarget['store']): Promise<RuleVersion | undefined> {
  return (await store.query<RuleVersion>(`SELECT ${COLUMNS} FROM ${store.t('rulebase_changes')} ${NEWEST_FIRST} LIMIT 1`, {}, store.consistency.read))[0]
}

/** A recorded version by its hash: the row that first recorded that text (a revert records it again, with its own reason). */
export async function versionByHash(store: RulesTarget['store'], hash: string): Promise<RuleVersion | undefined> {
  return (await store.query<RuleVersion>(
    `SELECT ${COLUMNS} FROM ${store.t('rulebase_changes')} WHERE hash = {hash:String} ORDER BY at, hash LIMIT 1`, { hash }, store.consistency.read))[0]
}

/** The recorded changes, newest first. */
export async function ruleHistory(store: RulesTarget['store'], limit = 100): Promise<RuleVersion[]> {
  return store.query<RuleVersion>(`SELECT ${COLUMNS} FROM ${store.t('rulebase_changes')} ${NEWEST_FIRST} LIMIT {limit:UInt32}`, { limit }, store.consistency.read)
}

/**
 * One rule-base step at a time per process: a change made here while a poll is
 * putting an older version in force waits for it, so the poll cannot swap the
 * older one in over the change.
 */
const queues = new WeakMap<RulesTarget, Promise<unknown>>()
function serial<T>(t: RulesTarget, step: () => Promise<T>): Promise<T> {
  const run = (queues.get(t) ?? Promise.resolve()).then(step, step)
  queues.set(t, run.catch(() => undefined))
  return run
}

/**
 * Records a new version and puts it in force here at once (the other replicas
 * follow within their poll interval). Validated first, exactly as a poll would
 * validate it; an invalid text changes nothing and throws RULEBASE_INVALID
 * naming the line.
 */
export interface Applied { hash: string; detectors: { id: string; params_hash: string }[]; promoted: Promoted[] }

export function applyRules(t: RulesTarget, text: string, origin: ChangeOrigin, label = 'rules'): Promise<Applied> {
  return serial(t, () => record(t, text, origin, label))
}

async function record(t: RulesTarget, text: string, origin: ChangeOrigin, label: string): Promise<Applied> {
  let engine: DetectEngine
  try {
    engine = parseRules(text, t.registry, label).engine
  } catch (err) {
    t.metrics.ruleReloads.inc({ outcome: 'invalid' })
    throw err
  }
  const hash = rulesHash(text)
  const detectors = engine.active.map((a) => ({ id: a.detector.id, params_hash: a.paramsHash }))
  // The latest recorded version (what this change replaces), read from the store, not from this
  // process's engine, which may be a poll interval behind a change made through another replica.
  const [last] = await t.store.query<{ hash: string; ms: string }>(
    `SELECT hash, toUnixTimestamp64Milli(at) AS ms FROM ${t.store.t('rulebase_changes')} ${NEWEST_FIRST} LIMIT 1`, {}, t.store.consistency.read)
  const parent = last?.hash ?? ''
  if (origin.expected !== undefined && origin.expected !== parent) {
    throw new FundwatchError('CONFLICT', `the rule base changed since it was read (${origin.expected || 'none recorded'} → ${parent}); reload, look at the change, and edit again`)
  }
  const reason = origin.reason.slice(0, REASON_MAX)
  // Later than every recorded change, whatever this machine's clock says: the change just made is the one in force.
  const at = Math.max(Date.now(), Number(last?.ms ?? 0) + 1)
  await t.store.insert('rulebase_changes', [{ hash, at: chTime(at), by: origin.by, source: origin.source, reason, parent, text, detectors: detectors.map((d) => `${d.id}@${d.params_hash}`) }], t.store.consistency.write)
  t.log.info({ hash, parent, by: origin.by, source: origin.source, reason }, 'rule base change recorded')
  const promoted = await putInForce(t, engine, { hash, text })
  return { hash, detectors, promoted }
}

/**
 * THE way a version goes into force in a process (a change made here, a poll,
 * start-up): swap, then promote what went shadow → on (src/detect/shadow.ts).
 * The swap comes first so that a batch written from now on routes the
 * promoted detector's alerts live; a batch whose shadow rows were being
 * written during the swap copies them itself (Pipeline.store), and one
 * written before is copied here. Promotion is idempotent, so every replica
 * that swaps may run it.
 */
async function putInForce(t: RulesTarget, engine: DetectEngine, version: RuleRef, before: DetectEngine | undefined = t.engine()): Promise<Promoted[]> {
  t.setEngine(engine, version)
  t.metrics.ruleBaseInfo.reset()
  t.metrics.ruleBaseInfo.set({ hash: version.hash }, 1)
  t.metrics.ruleReloads.inc({ outcome: 'applied' })
  t.log.info({ hash: version.hash, detectors: engine.active.length }, 'rule base in force')
  const promoted = await promoteShadow(t.store, before, engine)
  for (const p of promoted) t.log.info({ detector: p.detector, alerts: p.alerts }, 'shadow detector promoted: its shadow alerts are live')
  return promoted
}

/**
 * Brings this process to the version in force in the store. Cheap when
 * nothing changed (one small query). `refused` remembers versions this build
 * cannot run, so each is logged and counted once, not at every poll.
 * `startup`: no engine yet worth keeping, so an unusable latest version falls
 * back to the newest usable one (else the defaults the process started with).
 */
export function syncRuleBase(t: RulesTarget, refused: Set<string>, opts: { startup?: boolean } = {}): Promise<void> {
  return serial(t, () => sync(t, refused, opts))
}

async function sync(t: RulesTarget, refused: Set<string>, opts: { startup?: boolean }): Promise<void> {
  const latest = (await t.store.query<{ hash: string }>(`SELECT hash FROM ${t.store.t('rulebase_changes')} ${NEWEST_FIRST} LIMIT 1`, {}, t.store.consistency.read))[0]
  if (latest === undefined) {
    if (opts.startup) await putInForce(t, t.engine(), { hash: '', text: '' }, undefined)
    return
  }
  if (latest.hash === t.rulesInForce().hash || (!opts.startup && refused.has(latest.hash))) return
  const candidates = opts.startup ? await ruleHistory(t.store, 1000) : [(await latestVersion(t.store))!]
  for (const v of candidates) {
    if (v.hash === t.rulesInForce().hash) return
    let engine: DetectEngine
    try {
      engine = parseRules(v.text, t.registry, `rule base ${v.hash}`).engine
    } catch (err) {
      if (!refused.has(v.hash)) {
        refused.add(v.hash)
        t.metrics.ruleReloads.inc({ outcome: 'invalid' })
        t.log.error({ hash: v.hash, in_force: t.rulesInForce().hash, err: (err as Error).message }, 'rule base version refused: this build cannot run it; the rules in force stay')
      }
      if (!opts.startup) return
      continue
    }
    await putInForce(t, engine, { hash: v.hash, text: v.text }, opts.startup ? undefined : t.engine())
    return
  }
  // Startup with no version this build can run: the engine it was built with (every detector with defaults).
  await putInForce(t, t.engine(), { hash: '', text: '' }, undefined)
}

/**
 * A rules file's text as a new version, when that exact text was never
 * recorded; otherwise nothing (a restart with an old file does not override
 * a newer change). Throws RULEBASE_INVALID on an invalid new text.
 */
export async function recordRulesFile(t: RulesTarget, path: string, text: string): Promise<boolean> {
  const hash = rulesHash(text)
  const seen = await t.store.query<{ n: string }>(`SELECT count() AS n FROM ${t.store.t('rulebase_changes')} WHERE hash = {hash:String}`, { hash }, t.store.consistency.read)
  if (Number(seen[0]?.n) > 0) {
    t.log.info({ hash, file: path }, 'rules file already recorded: the version in force in the store applies')
    return false
  }
  await applyRules(t, text, { by: `file:${path}`, source: 'file', reason: `rules file ${path} (new text)` }, path)
  return true
}

export function readRulesText(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (cause) {
    throw new FundwatchError('RULEBASE_INVALID', `cannot read rule base ${path}`, { cause })
  }
}

/**
 * Follows the rule base while the process runs: polls the store every
 * `pollMs` and, with a rules file, records each new text written to it.
 * Returns a stop function. A failed poll (store unreachable) is logged and
 * retried at the next tick; the rules in force stay.
 */
export function followRuleBase(t: RulesTarget, opts: { pollMs: number; rulesFile?: string; fileIntervalMs?: number }): () => void {
  const refused = new Set<string>()
  let busy = false
  const poll = async () => {
    if (busy) return
    busy = true
    try {
      await syncRuleBase(t, refused)
    } catch (err) {
      t.log.warn({ err: (err as Error).message }, 'rule base poll failed; the rules in force stay')
    } finally {
      busy = false
    }
  }
  const timer = setInterval(() => void poll(), opts.pollMs)
  timer.unref()
  const path = opts.rulesFile
  if (path === undefined) return () => clearInterval(timer)
  let last = safeRead(path)
  const onChange = () => {
    const text = safeRead(path)
    if (text === undefined || text === last) return
    last = text
    recordRulesFile(t, path, text).catch((err: unknown) => t.log.error({ err: (err as Error).message }, 'rule base change refused; the previous rules stay in force'))
  }
  // Polling: works on every filesystem and editor save style.
  watchFile(path, { interval: opts.fileIntervalMs ?? 1000 }, onChange)
  return () => {
    clearInterval(timer)
    unwatchFile(path, onChange)
  }
}

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}
