import { describe, expect, it } from 'vitest'
import { AnyEvent } from '../../schemas/index.ts'
import { malformedSamples, validSamples } from '../../src/generator/malformed.ts'

const MAX_BYTES = 1 << 20
const fen = (s: string): number => Math.round(Number(s) * 100)

/**
 * A reference reading of CONTRACT.md's rejection rules, independent of the
 * pipeline's validator: null for an acceptable event, else what is wrong.
 */
function rejects(bytes: Buffer, now: number): string | null {
  if (bytes.length > MAX_BYTES) return 'oversized'
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return 'utf8'
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return 'json'
  }
  const r = AnyEvent.safeParse(value)
  if (!r.success) return `schema ${r.error.issues[0]!.path.join('.')}`
  const e = r.data
  if (Date.parse(e.event_time) > now + 86_400_000) return 'future'
  if (e.event_type === 'fee.uploaded') {
    for (const l of e.payload.lines) if (Math.abs(Number(l.cnt) * fen(l.pric) - fen(l.det_item_fee_sumamt)) > 1) return 'arithmetic'
  }
  if (e.event_type === 'settlement.completed') {
    const p = e.payload
    if (fen(p.medfee_sumamt) !== fen(p.fund_pay_sumamt) + fen(p.acct_pay) + fen(p.psn_cash_pay)) return 'settlement parts'
    if (fen(p.hifp_pay) > fen(p.fund_pay_sumamt) || fen(p.inscp_scp_amt) > fen(p.medfee_sumamt)) return 'settlement bounds'
  }
  return null
}

describe('malformedSamples', () => {
  const now = Date.parse('2026-06-01T00:00:00+08:00')
  const samples = malformedSamples()

  it('builds from events that are themselves acceptable', () => {
    for (const e of validSamples()) expect(rejects(Buffer.from(JSON.stringify(e)), now), String(e['event_type'])).toBeNull()
  })

  it('has at least 35 kinds, each with its own reason', () => {
    expect(samples.length).toBeGreaterThanOrEqual(35)
    expect(new Set(samples.map((s) => s.reason)).size).toBe(samples.length)
  })

  it('gives only input the contract rejects', () => {
    const verdicts = samples.map((s) => [s.reason, rejects(s.bytes, now)] as const)
    expect(verdicts.filter(([, v]) => v === null).map(([r]) => r)).toEqual([])
  })

  it('covers every way in: bytes, JSON, envelope, each event type and the cross-field rules', () => {
    const kinds = new Set(samples.map((s) => rejects(s.bytes, now)!.split(' ')[0]))
    for (const k of ['oversized', 'utf8', 'json', 'schema', 'future', 'arithmetic', 'settlement']) expect(kinds.has(k), k).toBe(true)
    const text = samples.map((s) => s.reason).join('\n')
    for (const t of ['visit.opened', 'fee.uploaded', 'fee.reversed', 'visit.closed', 'settlement', 'inventory.movement', 'event_type', 'schema_version']) expect(text).toContain(t)
  })
})
