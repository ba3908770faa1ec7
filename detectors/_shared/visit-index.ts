// A per-visit index of fee lines by med_list_codg, so detectors that look for
// particular items in a visit (duplicates, bundles, daily limits, a drug across
// visits) do a few lookups instead of reading every line of a long stay on every
// upload. It is a memo over the person state, never a second source of truth:
// it holds feedetl_sns (resolved through visit.lines at read time, so reversals
// and redeliveries are always current) and is checked against the visit before
// each use, rebuilt whenever it cannot prove it covers every line exactly once.
import type { DetectContext } from '../../src/detect/types.ts'
import type { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import type { FeeLineState, VisitState } from '../../src/state/types.ts'

/** A visit's lines by med_list_codg. Get one with indexFor(); valid for the current event. */
export class VisitIndex {
  /** One feedetl_sn as a bare string (most items appear once in a visit), several as an array: small for long stays. */
  readonly byCode = new Map<string, string | string[]>()
  /** Distinct (code, feedetl_sn) entries; equals visit.lines.size when every line is indexed once. */
  count = 0
  /** The last fee.uploaded event folded in, so several detectors on one event fold it once. */
  event: string | undefined

  constructor(readonly visit: VisitState) {
    for (const l of visit.lines.values()) this.add(l.med_list_codg, l.feedetl_sn)
  }

  add(code: string, sn: string): void {
    const e = this.byCode.get(code)
    if (e === undefined) this.byCode.set(code, sn)
    else if (typeof e === 'string') {
      if (e === sn) return
      this.byCode.set(code, [e, sn])
    } else {
      if (e.includes(sn)) return
      e.push(sn)
    }
    this.count++
  }

  /** The visit's standing (not reversed) lines of one item. */
  lines(code: string): FeeLineState[] {
    const e = this.byCode.get(code)
    const out: FeeLineState[] = []
    if (e === undefined) return out
    if (typeof e === 'string') {
      const l = this.standing(e, code)
      if (l !== undefined) out.push(l)
    } else {
      for (const sn of e) {
        const l = this.standing(sn, code)
        if (l !== undefined) out.push(l)
      }
    }
    return out
  }

  /** An upper bound on the standing lines of one item (reversed ones count too), without allocating. */
  countOf(code: string): number {
    const e = this.byCode.get(code)
    return e === undefined ? 0 : typeof e === 'string' ? 1 : e.length
  }

  // A stale entry (the line's code was corrected by a re-upload) resolves to a line of another code: skipped.
  private standing(sn: string, code: string): FeeLineState | undefined {
    const l = this.visit.lines.get(sn)
    return l !== undefined && !l.reversed && l.med_list_codg === code ? l : undefined
  }
}

const indexes = new WeakMap<VisitState, VisitIndex>()

function build(visit: VisitState): VisitIndex {
  const idx = new VisitIndex(visit)
  indexes.set(visit, idx)
  return idx
}

/** The index of a visit, brought up to date with the current event. Fetch it once per detect call. */
export function indexFor(ctx: DetectContext, visit: VisitState): VisitIndex {
  let idx = indexes.get(visit)
  if (idx === undefined) return build(visit)
  const ev = ctx.event
  if (ev.event_type === 'fee.uploaded' && ctx.visit === visit && idx.event !== ev.event_id) {
    for (const u of ev.payload.lines) idx.add(u.med_list_codg, u.feedetl_sn)
    idx.event = ev.event_id
  }
  // Lines added by events the index never saw, or a line whose code was corrected: start again.
  if (idx.count !== visit.lines.size) idx = build(visit)
  return idx
}

/** The visit's standing (not reversed) lines of one item. */
export function linesWithCode(ctx: DetectContext, visit: VisitState, code: string): FeeLineState[] {
  return indexFor(ctx, visit).lines(code)
}

/** An upper bound on the visit's standing lines of one item, without allocating. */
export function codeCount(ctx: DetectContext, visit: VisitState, code: string): number {
  return indexFor(ctx, visit).countOf(code)
}

const groups = new WeakMap<KnowledgeBase, Map<string, string[]>>()

/** Catalog codes sharing an exclusive_group, per KB version (a reload builds a new KnowledgeBase). */
export function exclusiveGroupCodes(kb: KnowledgeBase, group: string): readonly string[] {
  let m = groups.get(kb)
  if (m === undefined) {
    m = new Map()
    for (const item of kb.catalog.values()) {
      if (item.exclusive_group === undefined) continue
      const codes = m.get(item.exclusive_group)
      if (codes === undefined) m.set(item.exclusive_group, [item.med_list_codg])
      else codes.push(item.med_list_codg)
    }
    groups.set(kb, m)
  }
  return m.get(group) ?? []
}

/**
 * The items the current fee.uploaded brings to its visit, each with every
 * standing line of that item in the visit (earlier uploads included). A
 * finding is one per item, visit and rule (itemFinding): it must be judged
 * over all the item's lines, because its alert replaces the one an earlier
 * upload of the same item raised.
 */
export function touchedItems(ctx: DetectContext, visit: VisitState): Map<string, FeeLineState[]> {
  const out = new Map<string, FeeLineState[]>()
  if (ctx.event.event_type !== 'fee.uploaded' || ctx.visit !== visit) return out
  const idx = indexFor(ctx, visit)
  for (const u of ctx.event.payload.lines) {
    if (out.has(u.med_list_codg)) continue
    const lines = idx.lines(u.med_list_codg)
    if (lines.length > 0) out.set(u.med_list_codg, lines)
  }
  return out
}

/** Every standing line of the visit, by item: what a judgement at discharge reads. */
export function itemsOfVisit(visit: VisitState): Map<string, FeeLineState[]> {
  const out = new Map<string, FeeLineState[]>()
  for (const l of visit.lines.values()) {
    if (l.reversed) continue
    const a = out.get(l.med_list_codg)
    if (a === undefined) out.set(l.med_list_codg, [l])
    else a.push(l)
  }
  return out
}

/** touchedItems, flattened: the lines a per-item finding judges again on this upload. */
export function touchedLines(ctx: DetectContext, visit: VisitState): FeeLineState[] {
  const out: FeeLineState[] = []
  for (const lines of touchedItems(ctx, visit).values()) out.push(...lines)
  return out
}
