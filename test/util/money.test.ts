import { describe, expect, it } from 'vitest'
import { compareYuan, fen, money, scaled, sumYuan, yuan } from '../../src/util/money.ts'

describe('money arithmetic (integer fen, never binary floating point)', () => {
  it('sums 1,000,000 × 1,234.57 exactly', () => {
    const values = Array.from({ length: 1_000_000 }, () => '1234.57')
    expect(sumYuan(values)).toBe('1234570000.00')
    // What the code did before: adding Numbers drifts away from the exact total.
    expect(values.reduce((s, v) => s + Number(v), 0).toFixed(2)).not.toBe('1234570000.00')
  })

  it('holds the largest amounts the contract allows, and their sums, to the fen', () => {
    const max = '99999999999999.99' // N(16,2): 14 digits before the point
    expect(fen(max)).toBe(9_999_999_999_999_999n)
    expect(sumYuan([max, max, max])).toBe('299999999999999.97')
    expect(sumYuan(Array.from({ length: 5000 }, () => max))).toBe('499999999999999950.00')
    // A double cannot: the same figure through Number loses the last fen.
    expect(BigInt(Math.round(Number(max) * 100))).not.toBe(9_999_999_999_999_999n)
  })

  it('parses and formats without rounding', () => {
    expect(fen('0.1')).toBe(10n)
    expect(fen('123.4')).toBe(12340n)
    expect(yuan(5n)).toBe('0.05')
    expect(yuan(-12345n)).toBe('-123.45')
    expect(money('1.5')).toBe('1.50')
    expect(money('1234570000')).toBe('1234570000.00')
    expect(scaled('0.128333', 6)).toBe(128333n)
    expect(scaled('2.5', 4)).toBe(25000n)
  })

  it('refuses what is not a decimal, or has more decimals than the scale', () => {
    expect(() => fen('1e3')).toThrow(RangeError)
    expect(() => fen('12.345')).toThrow(RangeError)
    expect(() => fen('')).toThrow(RangeError)
    expect(fen('12.3400')).toBe(1234n) // trailing zeros are the same value
  })

  it('compares exactly where doubles tie', () => {
    expect(compareYuan('99999999999999.99', '99999999999999.98')).toBe(1)
    expect(Number('99999999999999.99') > Number('99999999999999.98')).toBe(false)
    expect(compareYuan('1.00', '1')).toBe(0)
  })
})
