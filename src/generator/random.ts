/**
 * A small seeded PRNG (sfc32) with the draws the generator needs. Math.random
 * is never used: the same seed must give byte-identical datasets, so a test or
 * a benchmark can be re-run and a label file always matches its events file.
 */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number | string) {
    // splitmix32 spreads a small or textual seed over the 128-bit state.
    let h = typeof seed === 'number' ? seed >>> 0 : hashString(seed)
    const next = (): number => {
      h = (h + 0x9e3779b9) | 0
      let z = h
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
    for (let i = 0; i < 12; i++) this.u32()
  }

  /** A child generator whose stream depends only on this seed and `label`, not on how many draws came before. */
  static derive(seed: number, label: string): Rng {
    return new Rng(hashString(`${seed}/${label}`))
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296
  }

  /** Integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list')
    return xs[Math.floor(this.next() * xs.length)]!
  }

  /** Picks by weight; weights need not sum to 1. */
  weighted<T>(xs: readonly (readonly [T, number])[]): T {
    let total = 0
    for (const [, w] of xs) total += w
    let r = this.next() * total
    for (const [x, w] of xs) {
      r -= w
      if (r < 0) return x
    }
    return xs[xs.length - 1]![0]
  }

  /** `k` distinct elements in random order (all of them when k ≥ length). */
  sample<T>(xs: readonly T[], k: number): T[] {
    const copy = xs.slice()
    const n = Math.min(k, copy.length)
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(this.next() * (copy.length - i))
      const t = copy[i]!
      copy[i] = copy[j]!
      copy[j] = t
    }
    return copy.slice(0, n)
  }

  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      const t = xs[i]!
      xs[i] = xs[j]!
      xs[j] = t
    }
    return xs
  }

  /** Exponential with the given mean: waiting times between independent visits. */
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean
  }

  /** A fixed-length string of decimal digits. */
  digits(n: number): string {
    let s = ''
    for (let i = 0; i < n; i++) s += String(this.u32() % 10)
    return s
  }
}

/** FNV-1a, 32 bit: stable across runs and platforms, enough to seed from a label. */
export function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
