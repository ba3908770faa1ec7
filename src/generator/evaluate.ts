import { PATTERNS, type PatternId } from '../detect/patterns.ts'
import { alertMatchesLabel, type AlertRefs, type Label } from './labels.ts'

export interface PatternScore {
  /** Alerts that match at least one label of their pattern. */
  tp: number
  /** Alerts that match none. */
  fp: number
  /** Labels no alert matched. */
  fn: number
  /** tp / alerts; 1 when there are no alerts (nothing claimed, nothing wrong). */
  precision: number
  /** Labels found / labels; 1 when there are no labels. */
  recall: number
  alerts: number
  labels: number
}

type AlertLike = AlertRefs

/**
 * Scores alerts against generator labels, per pattern (= detector id), with
 * the matching rule of labels.ts: an alert is a true positive if it matches
 * any label of its pattern; a label is found if any alert matches it. Every
 * pattern of PATTERNS has an entry; alerts of detectors that are not a pattern
 * are not scored.
 */
export function evaluate(alerts: readonly AlertLike[], labels: readonly Label[]): Map<PatternId, PatternScore> {
  const out = new Map<PatternId, PatternScore>()
  for (const pattern of Object.keys(PATTERNS) as PatternId[]) {
    const ls = labels.filter((l) => l.pattern === pattern)
    const as = alerts.filter((a) => a.detector.id === pattern)
    const index = new LabelIndex(ls)
    const found = new Set<number>()
    let tp = 0
    for (const a of as) {
      let hit = false
      for (const i of index.candidates(a)) {
        if (!alertMatchesLabel(a, ls[i]!)) continue
        hit = true
        found.add(i)
      }
      if (hit) tp++
    }
    out.set(pattern, {
      tp,
      fp: as.length - tp,
      fn: ls.length - found.size,
      precision: as.length ? tp / as.length : 1,
      recall: ls.length ? found.size / ls.length : 1,
      alerts: as.length,
      labels: ls.length,
    })
  }
  return out
}

/** Labels of one pattern indexed by the ref each is matched on, so scoring stays linear in alerts. */
class LabelIndex {
  private readonly bySn = new Map<string, number[]>()
  private readonly byMdtrt = new Map<string, number[]>()
  private readonly bySetl = new Map<string, number[]>()
  private readonly byInst = new Map<string, number[]>()

  constructor(labels: readonly Label[]) {
    labels.forEach((l, i) => {
      const r = l.refs
      if (r.feedetl_sns.length) for (const k of r.feedetl_sns) add(this.bySn, k, i)
      else if (r.mdtrt_ids.length) for (const k of r.mdtrt_ids) add(this.byMdtrt, k, i)
      else if (r.setl_ids.length) for (const k of r.setl_ids) add(this.bySetl, k, i)
      else add(this.byInst, l.fixmedins_code, i)
    })
  }

  candidates(a: AlertLike): Set<number> {
    const c = new Set<number>()
    for (const k of a.refs.feedetl_sns) for (const i of this.bySn.get(k) ?? []) c.add(i)
    for (const k of [...a.refs.mdtrt_ids, ...(a.subject.mdtrt_id ? [a.subject.mdtrt_id] : [])]) for (const i of this.byMdtrt.get(k) ?? []) c.add(i)
    for (const k of [...a.refs.setl_ids, ...(a.subject.setl_id ? [a.subject.setl_id] : [])]) for (const i of this.bySetl.get(k) ?? []) c.add(i)
    for (const i of this.byInst.get(a.subject.fixmedins_code) ?? []) c.add(i)
    return c
  }
}

function add(m: Map<string, number[]>, k: string, i: number): void {
  const a = m.get(k)
  if (a) a.push(i)
  else m.set(k, [i])
}
