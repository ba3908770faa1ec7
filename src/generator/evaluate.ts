import { PATTERNS, type PatternId } from '../detect/patterns.ts'
import { alertMatchesLabel, type AlertRefs, type Label, type NearMiss } from './labels.ts'

/**
 * An alert's lifecycle (issue 9): raised `active`, revised `updated` when
 * later facts change its amount or evidence, `withdrawn` when they remove the
 * facts it rests on. Documents stored before revisions existed have no status:
 * they count as active.
 */
export type AlertStatus = 'active' | 'updated' | 'withdrawn'

function hasStatus(a: object): a is { status: unknown } {
  return 'status' in a
}

/** The status of an alert document (its latest stored revision), 'active' when it has none. */
export function alertStatus(a: object): AlertStatus {
  const s = hasStatus(a) ? a.status : undefined
  return s === 'updated' || s === 'withdrawn' ? s : 'active'
}

/** Whether the alert still stands: a withdrawn alert is no longer claimed, so it is neither a true nor a false one. */
export function standing(a: object): boolean {
  return alertStatus(a) !== 'withdrawn'
}

export interface PatternScore {
  /** Standing alerts that match at least one label of their pattern. */
  tp: number
  /** Standing alerts that match none. */
  fp: number
  /** Labels no standing alert matched. */
  fn: number
  /** tp / standing alerts; 1 when there are none (nothing claimed, nothing wrong). */
  precision: number
  /** Labels some standing alert matched / labels; 1 when there are no labels. */
  recall: number
  /** Labels some alert ever raised matched (withdrawn ones too) / labels: recall before withdrawals. */
  recallRaised: number
  /** Standing alerts (withdrawn ones are left out of every other count but recallRaised). */
  alerts: number
  /** Alerts withdrawn by later facts. */
  withdrawn: number
  labels: number
}

type AlertLike = AlertRefs

/**
 * Scores alerts against generator labels, per pattern (= detector id), with
 * the matching rule of labels.ts: an alert is a true positive if it matches
 * any label of its pattern; a label is found if any alert matches it. Every
 * pattern of PATTERNS has an entry; alerts of detectors that are not a pattern
 * are not scored. `alerts` is the latest stored revision of each alert: a
 * withdrawn one counts only towards `withdrawn` and `recallRaised`, so a
 * reader sees both that withdrawals cleared false alerts (precision) and
 * that they took no true finding with them (recall = recallRaised).
 */
export function evaluate(alerts: readonly AlertLike[], labels: readonly Label[]): Map<PatternId, PatternScore> {
  const out = new Map<PatternId, PatternScore>()
  for (const pattern of Object.keys(PATTERNS) as PatternId[]) {
    const ls = labels.filter((l) => l.pattern === pattern)
    const as = alerts.filter((a) => a.detector.id === pattern)
    const index = new LabelIndex(ls)
    const found = new Set<number>()
    const foundRaised = new Set<number>()
    let tp = 0
    let withdrawn = 0
    for (const a of as) {
      const stands = standing(a)
      if (!stands) withdrawn++
      let hit = false
      for (const i of index.candidates(a)) {
        if (!alertMatchesLabel(a, ls[i]!)) continue
        hit = true
        foundRaised.add(i)
        if (stands) found.add(i)
      }
      if (hit && stands) tp++
    }
    const n = as.length - withdrawn
    out.set(pattern, {
      tp,
      fp: n - tp,
      fn: ls.length - found.size,
      precision: n ? tp / n : 1,
      recall: ls.length ? found.size / ls.length : 1,
      recallRaised: ls.length ? foundRaised.size / ls.length : 1,
      alerts: n,
      withdrawn,
      labels: ls.length,
    })
  }
  return out
}

export interface NearMissScore {
  nearMisses: number
  /** Alerts raised on them (distinct alert per near miss), withdrawn ones included. */
  raised: number
  withdrawn: number
  /** Standing alerts beyond what the near misses deserve (their expected_alerts, usually 0). */
  false: number
  /** Standing alerts that were due / standing alerts on the near misses; 1 when none stands. */
  precision: number
}

/**
 * False alerts on near misses, per detector and per shape: an alert of the
 * near miss's detector that matches its records (the label rule, with the near
 * miss's pattern) is false when it still stands and the near miss already has
 * its `expected_alerts` (0 for legitimate data; 1 for a persisting real
 * finding, whose second alert is the false one). A withdrawn alert — later
 * facts showed the data legitimate — is not false. `alerts` is the latest
 * stored revision of each alert.
 */
export function scoreNearMisses(alerts: readonly AlertLike[], nearMisses: readonly NearMiss[]): { byDetector: Map<PatternId, NearMissScore>; byKind: Map<string, NearMissScore & { pattern: PatternId }> } {
  interface Tally { nearMisses: number; raised: number; withdrawn: number; false: number; standing: number }
  const tally = (): Tally => ({ nearMisses: 0, raised: 0, withdrawn: 0, false: 0, standing: 0 })
  const byDetector = new Map<PatternId, Tally>()
  const byKind = new Map<string, Tally & { pattern: PatternId }>()
  for (const pattern of Object.keys(PATTERNS) as PatternId[]) {
    const nms = nearMisses.filter((n) => n.pattern === pattern)
    if (nms.length === 0) continue
    const index = new LabelIndex(nms)
    const hits = nms.map(() => [] as AlertLike[])
    for (const a of alerts) {
      if (a.detector.id !== pattern) continue
      for (const i of index.candidates(a)) if (alertMatchesLabel(a, { ...nms[i]!, pattern })) hits[i]!.push(a)
    }
    const det = tally()
    byDetector.set(pattern, det)
    nms.forEach((n, i) => {
      let kind = byKind.get(n.kind)
      if (!kind) byKind.set(n.kind, (kind = { ...tally(), pattern }))
      const as = hits[i]!
      const stand = as.filter(standing).length
      for (const t of [det, kind]) {
        t.nearMisses++
        t.raised += as.length
        t.withdrawn += as.length - stand
        t.standing += stand
        t.false += Math.max(0, stand - (n.expected_alerts ?? 0))
      }
    })
  }
  const score = ({ standing: n, ...t }: Tally): NearMissScore => ({ ...t, precision: n ? (n - t.false) / n : 1 })
  return {
    byDetector: new Map([...byDetector].map(([k, t]) => [k, score(t)])),
    byKind: new Map([...byKind].map(([k, t]) => [k, { ...score(t), pattern: t.pattern }])),
  }
}

/** Labels of one pattern indexed by the ref each is matched on, so scoring stays linear in alerts. */
class LabelIndex {
  private readonly bySn = new Map<string, number[]>()
  private readonly byMdtrt = new Map<string, number[]>()
  private readonly bySetl = new Map<string, number[]>()
  private readonly byInst = new Map<string, number[]>()

  constructor(labels: readonly Pick<Label, 'refs' | 'fixmedins_code'>[]) {
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
