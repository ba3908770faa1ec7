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
