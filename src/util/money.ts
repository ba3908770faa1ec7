/**
 * Money without binary floating point. The wire carries decimal strings
 * (CONTRACT.md: amounts N(16,2), prices N(16,6), quantities N(16,4)); sums and
 * comparisons that must be exact are done here in integers: fen (分, 1/100 yuan)
 * as `bigint`, so no total can lose a fen however large it grows. ClickHouse
 * holds the same values as Decimal columns and returns them as strings
 * (Store sets output_format_json_quote_decimals), never as JSON numbers.
 *
 * Detectors hand the engine a finding's amount as integer fen in a `number`
 * (Finding.amount_fen, summed with toFen per line): exact for any finding
 * below 2^53 fen (¥90 trillion, thirty times the national fund's yearly
 * spending); the engine turns it into the alert's decimal string through bigint.
 */

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/

/** A decimal string scaled to an integer with `scale` decimals; more decimals than that is an error, never a silent rounding. */
export function scaled(s: string, scale: number): bigint {
  const m = DECIMAL.exec(s)
  if (!m) throw new RangeError(`not a decimal: ${JSON.stringify(s.slice(0, 40))}`)
  const frac = m[3] ?? ''
  if (frac.length > scale) {
    if (/[^0]/.test(frac.slice(scale))) throw new RangeError(`more than ${scale} decimals: ${s.slice(0, 40)}`)
  }
  const v = BigInt(m[2]! + frac.slice(0, scale).padEnd(scale, '0'))
  return m[1] ? -v : v
}

/** "123.4" → 12340n. */
export function fen(yuan: string): bigint {
  return scaled(yuan, 2)
}

/** 12340n → "123.40" (always two decimals, as the API and the alert document carry money). */
export function yuan(f: bigint): string {
  const neg = f < 0n
  const s = (neg ? -f : f).toString().padStart(3, '0')
  return `${neg ? '-' : ''}${s.slice(0, -2)}.${s.slice(-2)}`
}

/** Exact sum of decimal money strings, as a money string. */
export function sumYuan(values: Iterable<string>): string {
  let t = 0n
  for (const v of values) t += fen(v)
  return yuan(t)
}

/** Normalises a money string (or a ClickHouse Decimal read back) to two decimals, exactly. */
export function money(v: string | bigint): string {
  return typeof v === 'bigint' ? yuan(v) : yuan(fen(v))
}

/** Compare two money strings exactly (for sorting by amount). */
export function compareYuan(a: string, b: string): number {
  const x = fen(a), y = fen(b)
  return x < y ? -1 : x > y ? 1 : 0
}
