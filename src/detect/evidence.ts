import type { EvidenceLabel, EvidenceLabels } from './types.ts'

/**
 * How many entries of one list a finding's evidence quotes (lines, sessions,
 * visits, purchases). The rest are counted, not quoted: the finding's refs
 * still name every record it rests on, and the console shows them all from
 * there. Applied by the engine to every finding of every detector, so no
 * detector can make one event's output grow with the number of lines.
 */
export const MAX_EVIDENCE_ITEMS = 20

/** Suffix of the key that counts what a list left out: `lines` → `lines_omitted`. */
export const OMITTED_SUFFIX = '_omitted'

/**
 * Evidence with every list, at any depth, cut to `max` entries; the object that
 * held a cut list gets `<key>_omitted` with the number left out. Returns the
 * value itself when nothing needs cutting (most findings), a copy otherwise —
 * the detector's objects are never changed.
 */
export function boundEvidence(evidence: Record<string, unknown>, max = MAX_EVIDENCE_ITEMS): Record<string, unknown> {
  return boundObject(evidence, max)
}

function boundObject(o: Record<string, unknown>, max: number): Record<string, unknown> {
  let out: Record<string, unknown> | undefined
  for (const k of Object.keys(o)) {
    const v = o[k]
    const b = bound(v, max)
    if (b !== v || (Array.isArray(v) && v.length > max)) {
      out ??= { ...o }
      out[k] = b
      if (Array.isArray(v) && v.length > max) out[`${k}${OMITTED_SUFFIX}`] = v.length - max
    }
  }
  return out ?? o
}

function bound(v: unknown, max: number): unknown {
  if (Array.isArray(v)) {
    const kept = v.length > max ? v.slice(0, max) : v
    let out: unknown[] | undefined
    for (let i = 0; i < kept.length; i++) {
      const b = bound(kept[i], max)
      if (b !== kept[i]) (out ??= [...kept])[i] = b
    }
    return out ?? kept
  }
  if (v !== null && typeof v === 'object') return boundObject(v as Record<string, unknown>, max)
  return v
}

/** Keys the engine and the pre-check add to any detector's evidence. */
export const ENGINE_EVIDENCE_LABELS: EvidenceLabels = Object.freeze({
  disclosure: { zh: '披露范围', en: 'disclosure', values: { other_institutions: { zh: '涉及其他机构，仅告知结论', en: 'rests on other institutions: conclusion only' } } },
  amount_withheld: { zh: '金额未披露', en: 'amount withheld' },
})

/**
 * The label of an evidence key: the detector's own, the engine's, or for a
 * `<key>_omitted` count the list's label with "未列出" / "not listed".
 */
export function evidenceLabel(labels: EvidenceLabels, key: string): EvidenceLabel | undefined {
  const own = labels[key] ?? ENGINE_EVIDENCE_LABELS[key]
  if (own || !key.endsWith(OMITTED_SUFFIX)) return own
  const list = labels[key.slice(0, -OMITTED_SUFFIX.length)]
  return list && { zh: `${list.zh}（未列出）`, en: `${list.en} not listed` }
}
