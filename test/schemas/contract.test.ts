import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Alert, AnyEvent, isValidCertno } from '../../schemas/index.ts'
import { render } from '../../scripts/gen-schemas.ts'
import { decode } from '../../src/pipeline/decode.ts'

const dir = join(import.meta.dirname, '../../schemas/examples')
const examples = readdirSync(dir).filter((f) => f.endsWith('.json'))

describe('contract examples', () => {
  it('has an example for every event type and the alert', () => {
    expect(examples.sort()).toEqual(['alert.json', 'fee.reversed.json', 'fee.uploaded.json', 'inventory.movement.json', 'settlement.completed.json', 'settlement.reversed.json', 'visit.cancelled.json', 'visit.closed.json', 'visit.opened.json', 'visit.updated.json'])
  })
  for (const f of examples.filter((f) => f !== 'alert.json')) {
    it(`${f} is valid and decodes`, () => {
      const bytes = readFileSync(join(dir, f))
      expect(AnyEvent.safeParse(JSON.parse(bytes.toString())).success).toBe(true)
      const r = decode(bytes, { maxBytes: 1 << 20, maxLines: 1000, futureToleranceMs: 86_400_000, now: () => Date.parse('2026-04-01T00:00:00Z') })
      expect(r.ok ? r.event.event_type : r.reason).toBe(f.replace(/\.json$/, ''))
    })
  }
  it('alert.json is a valid alert document', () => {
    expect(Alert.safeParse(JSON.parse(readFileSync(join(dir, 'alert.json'), 'utf8'))).success).toBe(true)
  })
  it('keeps unknown extra fields', () => {
    const r = decode(readFileSync(join(dir, 'visit.opened.json')), { maxBytes: 1 << 20, maxLines: 1000, futureToleranceMs: 0, now: () => Date.parse('2026-04-01T00:00:00Z') })
    expect(r.ok && (r.event.payload as Record<string, unknown>).vendor_extension).toEqual({ bed_no: '12-3' })
  })
})

describe('generated JSON Schemas', () => {
  it('match the zod source byte for byte (npm run schemas regenerates them)', () => {
    for (const [file, text] of render()) expect(readFileSync(join(import.meta.dirname, '../../schemas/json', file), 'utf8'), file).toBe(text)
  })
})

describe('certno check digit', () => {
  it('accepts a valid ID number and refuses a wrong check digit', () => {
    expect(isValidCertno('11010519491231002X')).toBe(true)
    expect(isValidCertno('110105194912310021')).toBe(false)
    expect(isValidCertno('11010519491231002')).toBe(false)
  })
})
