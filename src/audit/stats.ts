/**
 * Robust statistics for comparing a provider with its peers. Medians and the
 * median absolute deviation, not means and standard deviations: one fraudulent
 * provider in a peer group of a dozen would otherwise drag the mean towards
 * itself and inflate the spread until it no longer stands out.
 */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Median absolute deviation from the median (unscaled). */
export function mad(xs: readonly number[], med = median(xs)): number {
  return median(xs.map((x) => Math.abs(x - med)))
}

/**
 * 1.4826 × MAD estimates the standard deviation of normal data, so a robust z
 * of 3.5 is the Iglewicz–Hoaglin "modified z-score" outlier cut-off.
 */
export const MAD_TO_SD = 1.4826

export interface PeerStats {
  median: number
  mad: number
  /** The spread the z-score divides by: 1.4826 × MAD, raised to the floor. */
  scale: number
  /** Number of values the statistics were computed from (the subject included). */
  n: number
}

/**
 * Median and MAD of a peer group. When most peers agree exactly (MAD 0, e.g. a
 * drug share of 100 % at every pharmacy) the z-score would be infinite for any
 * difference: the scale is floored at `floorRatio` × |median| (and at
 * `floorAbs`) so only a material difference can stand out.
 */
export function peerStats(values: readonly number[], floorRatio: number, floorAbs = 0): PeerStats {
  const med = median(values)
  const m = mad(values, med)
  return { median: med, mad: m, scale: Math.max(MAD_TO_SD * m, floorRatio * Math.abs(med), floorAbs, Number.EPSILON), n: values.length }
}

export function robustZ(x: number, s: PeerStats): number {
  return (x - s.median) / s.scale
}

/** Rounds for evidence: enough digits to check by hand, not float noise. */
export function r4(x: number): number {
  return Math.round(x * 10_000) / 10_000
}
export function r2(x: number): number {
  return Math.round(x * 100) / 100
}
