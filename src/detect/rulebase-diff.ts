import type { DetectEngine } from './engine.ts'
import { paramsHash, stableJson, type RuleMode } from './rulebase.ts'
import { modeIn } from './shadow.ts'
import type { Detector } from './types.ts'

/** One difference between two rule bases: a leaf of one detector's effective rule (`params.max_ratio`, `mode`, `scope.admdvs`). */
export interface RuleChange { detector: string; path: string; from: unknown; to: unknown }

/**
 * Every detector's rule as it takes effect, not as it was written: the mode
 * (an absent entry, `enabled: false` and `mode` all normalised to it), the
 * parameters with their defaults filled in, the stages it really runs at, and
 * every other field of the rule as parsed — whatever fields a rule has, so a
 * field added to DetectorRule shows in a diff without a change here. Two texts
 * that differ only in comments, key order or a default spelt out are equal.
 */
export function effectiveRules(engine: DetectEngine, registry: readonly Detector[]): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>()
  for (const d of registry) {
    const a = engine.active.find((x) => x.detector.id === d.id)
    const rule = (a?.rule ?? engine.config.detectors[d.id] ?? { params: {}, scope: {} }) as Record<string, unknown> & { params?: unknown; stages?: string[] }
    const { enabled: _enabled, params: written, stages: _stages, ...rest } = rule
    // A detector that does not run still has its parameters checked and defaulted for the comparison.
    const parsed = a ? undefined : d.params.safeParse(written ?? {})
    const params = a?.params ?? (parsed?.success ? parsed.data : written ?? {})
    const stages = a ? d.stages.filter((s) => a.stages.has(s)) : d.stages.filter((s) => !rule.stages || rule.stages.includes(s))
    out.set(d.id, { ...rest, mode: modeIn(engine, d.id), params, stages })
  }
  return out
}

/** Each detector's id, mode and parameter hash under an engine (the parameters with defaults, as alerts carry them). */
export function detectorSummary(engine: DetectEngine, registry: readonly Detector[]): { id: string; mode: RuleMode; params_hash: string }[] {
  return [...effectiveRules(engine, registry)].map(([id, r]) => ({ id, mode: r.mode as RuleMode, params_hash: paramsHash(r.params) }))
}

/** What changes, detector by detector (registry order), leaf by leaf (path order), from one engine's rule base to another's. */
export function diffRuleBases(from: DetectEngine, to: DetectEngine, registry: readonly Detector[]): RuleChange[] {
  const before = effectiveRules(from, registry)
  const after = effectiveRules(to, registry)
  const out: RuleChange[] = []
  for (const d of registry) {
    const a = leaves(before.get(d.id))
    const b = leaves(after.get(d.id))
    for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
      const x = a.get(path)
      const y = b.get(path)
      if (stableJson(x ?? null) !== stableJson(y ?? null)) out.push({ detector: d.id, path, from: x ?? null, to: y ?? null })
    }
  }
  return out
}

/** Leaves by dotted path; arrays are leaves (a scope's list of regions is one value). */
function leaves(v: unknown, path = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, path ? `${path}.${k}` : k, out)
  } else if (v !== undefined && path) out.set(path, v)
  return out
}
