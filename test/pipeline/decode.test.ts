import { describe, expect, it } from 'vitest'
import { DEFAULT_DECODE, MAX_LINES_PER_EVENT, decode, type DecodeOptions } from '../../src/pipeline/decode.ts'
import { CASES, mutate } from '../helpers/malformed.ts'

const opts: DecodeOptions = { maxBytes: 64 * 1024, maxLines: 50, futureToleranceMs: 86_400_000, now: () => Date.parse('2026-04-01T00:00:00+08:00') }

describe('decode: malformed input is rejected with its own machine-readable reason', () => {
  it(`covers ${CASES.length} kinds, each with a distinct reason`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30)
    expect(new Set(CASES.map((c) => c[2])).size).toBe(CASES.length)
  })
  for (const [name, bytes, reason] of CASES) {
    it(name, () => {
      const r = decode(bytes, opts)
      expect(r.ok ? 'accepted' : r.reason).toBe(reason)
      if (!r.ok) expect(r.detail.length).toBeGreaterThan(0)
    })
  }
  it('never throws on arbitrary bytes', () => {
    let seed = 7
    for (let i = 0; i < 2000; i++) {
      const len = (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 300
      const b = Buffer.alloc(len)
      for (let j = 0; j < len; j++) b[j] = (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256
      expect(() => decode(b, opts)).not.toThrow()
    }
  })
  it('accepts CRLF-free valid JSON with extra fields everywhere', () => {
    const r = decode(mutate('fee.uploaded', (e) => { e.extra_top = 1; e.payload.lines[0].vendor = { a: 1 } }), opts)
    expect(r.ok).toBe(true)
  })
  it(`takes up to ${MAX_LINES_PER_EVENT} lines in one event by default and dead-letters one more as too_many_lines`, () => {
    const withLines = (n: number) => mutate('fee.uploaded', (e) => {
      e.payload.lines = Array.from({ length: n }, (_, i) => ({ ...e.payload.lines[0], feedetl_sn: `N${i}` }))
    })
    const at = { ...DEFAULT_DECODE, maxBytes: 4 << 20, now: opts.now }
    expect(decode(withLines(MAX_LINES_PER_EVENT), at).ok).toBe(true)
    const over = decode(withLines(MAX_LINES_PER_EVENT + 1), at)
    expect(over.ok ? 'accepted' : over.reason).toBe('too_many_lines@payload.lines')
  })
})

describe('decode: money as the national interface bounds it (N(16,2) amounts, N(16,6) prices, N(16,4) quantities)', () => {
  const ok = (b: Buffer) => decode(b, opts)
  it('accepts the largest figures the interface carries and checks their arithmetic exactly', () => {
    // 9999.9999 × 9999999999.999999 = 99,999,999,989,999.99..., rounded per line to the fen.
    const big = mutate('fee.uploaded', (e) => Object.assign(e.payload.lines[0], { cnt: '9999.9999', pric: '9999999999.999999', det_item_fee_sumamt: '99999998999999.99' }))
    expect(ok(big)).toMatchObject({ ok: true })
    const offByTwoFen = mutate('fee.uploaded', (e) => Object.assign(e.payload.lines[0], { cnt: '9999.9999', pric: '9999999999.999999', det_item_fee_sumamt: '99999998999999.97' }))
    expect(ok(offByTwoFen)).toMatchObject({ ok: false, reason: 'amount_mismatch@payload.lines.*' })
    const sixDecimals = mutate('fee.uploaded', (e) => Object.assign(e.payload.lines[0], { cnt: '3', pric: '0.128333', det_item_fee_sumamt: '0.38' }))
    expect(ok(sixDecimals)).toMatchObject({ ok: true })
  })
  it('refuses an amount of 15 digits before the point', () => {
    const r = ok(mutate('fee.uploaded', (e) => Object.assign(e.payload.lines[0], { cnt: '1', pric: '1.00', det_item_fee_sumamt: '100000000000000.00' })))
    expect(r).toMatchObject({ ok: false, reason: 'schema.invalid_format@payload.lines.*.det_item_fee_sumamt' })
  })
  it('counts the institution\'s share (hosp_part_amt) in the settlement identity', () => {
    const withShare = mutate('settlement.completed', (e) => {
      e.payload.hosp_part_amt = '5.00'
      e.payload.psn_cash_pay = (Number(e.payload.psn_cash_pay) - 5).toFixed(2)
    })
    expect(ok(withShare)).toMatchObject({ ok: true })
    const unbalanced = mutate('settlement.completed', (e) => (e.payload.hosp_part_amt = '5.00'))
    expect(ok(unbalanced)).toMatchObject({ ok: false, reason: 'settlement_sum_mismatch@payload' })
  })
})

describe('decode: what a rejected record says about itself', () => {
  it('names null as null (not "object") and says what the top level should be', () => {
    expect(decode(Buffer.from('null'), opts)).toMatchObject({ ok: false, reason: 'not_object', detail: 'top level is null, not an object' })
    expect(decode(Buffer.from('[1]'), opts)).toMatchObject({ ok: false, reason: 'not_object', detail: 'top level is an array, not an object' })
    expect(decode(Buffer.from('42'), opts)).toMatchObject({ ok: false, reason: 'not_object', detail: 'top level is a number, not an object' })
  })

  it('treats an empty and a whitespace-only record alike: both are empty', () => {
    expect(decode(Buffer.from(''), opts)).toMatchObject({ ok: false, reason: 'empty' })
    expect(decode(Buffer.from(' \t \r'), opts)).toMatchObject({ ok: false, reason: 'empty', detail: 'blank record (4 bytes of whitespace)' })
  })

  it('lists every schema problem of a record (the first is the reason), bounded', () => {
    const two = decode(mutate('visit.opened', (e) => { e.payload.psn_no = 12345; e.payload.begntime = 'yesterday' }), opts)
    expect(two).toMatchObject({ ok: false, reason: 'schema.invalid_type@payload.psn_no' })
    const lines = (two as { detail: string }).detail.split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/^payload\.psn_no: /)
    expect(lines[1]).toMatch(/^payload\.begntime: /)
    const many = decode(mutate('fee.uploaded', (e) => {
      e.payload.lines = Array.from({ length: 15 }, (_, i) => ({ ...e.payload.lines[0], feedetl_sn: `N${i}`, cnt: 'x' }))
    }), opts)
    const detail = (many as { detail: string }).detail.split('\n')
    expect(detail).toHaveLength(11)
    expect(detail[10]).toBe('… and 5 more')
  })
})
