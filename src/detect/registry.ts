import { detectors as all } from '../../detectors/index.ts'
import { FundwatchError } from '../errors.ts'
import { PATTERNS } from './patterns.ts'
import type { Detector } from './types.ts'

/**
 * The detector registry: every detector in detectors/index.ts, checked once.
 * A detector's id is its pattern id (the generator labels fraud by it and the
 * evaluation matches alerts to labels by it), ids are unique, and a detector's
 * kind (stream or audit) is its pattern's — a bad registration fails at start-up.
 */
export function buildRegistry(list: readonly Detector[] = all as readonly Detector[]): readonly Detector[] {
  const seen = new Set<string>()
  for (const d of list) {
    if (seen.has(d.id)) throw new FundwatchError('DETECTOR_DUPLICATE', `two detectors share the id "${d.id}"`)
    seen.add(d.id)
    const pattern = (PATTERNS as Record<string, { kind: string } | undefined>)[d.id]
    if (pattern === undefined) throw new FundwatchError('DETECTOR_UNKNOWN', `detector "${d.id}" names no pattern in src/detect/patterns.ts`)
    if (pattern.kind !== d.kind) throw new FundwatchError('DETECTOR_UNKNOWN', `detector "${d.id}" is ${d.kind} but its pattern is ${pattern.kind}`)
  }
  return Object.freeze([...list])
}
