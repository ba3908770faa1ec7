import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { detectors } from '../../detectors/index.ts'
import { render } from '../../scripts/gen-detector-docs.ts'
import { PATTERNS } from '../../src/detect/patterns.ts'
import type { AuditDetector, DetectContext, StreamDetector } from '../../src/detect/types.ts'
import { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import { AnyEvent } from '../../schemas/index.ts'
import {
  Timeline, feeReversed, feeUploaded, settlementCompleted, settlementReversed, visitClosed, visitOpened,
} from './detect.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const stream = detectors.filter((d) => d.kind === 'stream') as unknown as StreamDetector[]
const audit = detectors.filter((d) => d.kind === 'audit') as unknown as AuditDetector[]

describe('test helpers', () => {
  it('build events a producer could send (they pass the wire schema)', () => {
    const events = [
      visitOpened({ mdtrt_id: 'V1', begntime: '2026-03-01T08:00:00+08:00', diagnoses: [{ diag_code: 'J18.900' }] }),
      feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-01T09:00:00+08:00', med_list_codg: 'X1', cnt: '2', pric: '3.50' }] }),
      feeReversed({ mdtrt_id: 'V1', feedetl_sns: ['a'], time: '2026-03-01T10:00:00+08:00' }),
      visitClosed({ mdtrt_id: 'V1', endtime: '2026-03-02T08:00:00+08:00', dscg_maindiag_code: 'J18.900' }),
      settlementCompleted({ mdtrt_id: 'V1', setl_id: 'S1', setl_time: '2026-03-02T09:00:00+08:00', fund_pay_sumamt: '5000.00' }),
      settlementReversed({ mdtrt_id: 'V1', setl_id: 'S1', time: '2026-03-02T10:00:00+08:00' }),
    ]
    for (const e of events) expect(AnyEvent.safeParse(e).success).toBe(true)
    const fee = events[1] as { payload: { lines: { det_item_fee_sumamt: string }[] } }
    expect(fee.payload.lines[0]!.det_item_fee_sumamt).toBe('7.00')
  })

  it('apply the event to the person state before the detector runs, and run only detectors that react to it', () => {
    const seen: { type: string; lines: number; principal?: string }[] = []
    const probe = {
      ...stream[0]!, reactsTo: ['fee.uploaded'] as const,
      detect(ctx: DetectContext) {
        seen.push({ type: ctx.event.event_type, lines: ctx.visit?.lines.size ?? -1, principal: ctx.visit?.diagnoses[0]?.diag_code })
        return []
      },
    } as unknown as StreamDetector
    const t = new Timeline(probe)
    t.push(visitOpened({ mdtrt_id: 'V1', begntime: '2026-03-01T08:00:00+08:00', diagnoses: [{ diag_code: 'J18.900' }] }))
    t.push(feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-01T09:00:00+08:00', med_list_codg: 'X1' }] }))
    expect(seen).toEqual([{ type: 'fee.uploaded', lines: 1, principal: 'J18.900' }])
    expect(t.person.visits.get('V1')!.opened).toBe(true)
  })
})

describe('the detector registry', () => {
  it('has one stream detector per streaming pattern, with the pattern id as its id', () => {
    const streamingPatterns = Object.entries(PATTERNS).filter(([, p]) => p.kind === 'stream').map(([id]) => id).sort()
    expect(stream.map((d) => d.id).sort()).toEqual(streamingPatterns)
  })

  for (const d of stream) {
    describe(d.id, () => {
      it('documents every parameter and defaults all of them, rejecting unknown ones', () => {
        const json = z.toJSONSchema(d.params, { io: 'input' }) as { properties: Record<string, { description?: string; default?: unknown }> }
        for (const [name, prop] of Object.entries(json.properties)) {
          expect(prop.description, `${d.id}.${name} needs .describe()`).toBeTruthy()
          expect(prop.default, `${d.id}.${name} needs a default`).not.toBeUndefined()
        }
        expect(d.params.safeParse({}).success).toBe(true)
        expect(d.params.safeParse({ no_such_parameter: 1 }).success).toBe(false)
      })

      it('names itself in both languages and cites a basis', () => {
        for (const t of [d.title, d.pattern, d.description, d.basis]) {
          expect(t.zh.length).toBeGreaterThan(1)
          expect(t.en.length).toBeGreaterThan(1)
        }
        expect(d.reactsTo.length).toBeGreaterThan(0)
        if (d.lookbackDays) expect(Number.isInteger(d.lookbackDays(d.params.parse({})))).toBe(true)
      })

      it('has a README in zh and en and a test file', () => {
        const readme = readFileSync(join(ROOT, 'detectors', d.id, 'README.md'), 'utf8')
        expect(readme).toMatch(/## 中文/)
        expect(readme).toMatch(/## English/)
        expect(readme).toMatch(/<!-- params:start -->\n\| name \| type \| default \| description \|/)
        expect(existsSync(join(ROOT, 'detectors', d.id, `${d.id}.test.ts`))).toBe(true)
      })

      it('finds nothing, without throwing, when the event names no person or visit', () => {
        const ev = feeUploaded({ mdtrt_id: 'V1', lines: [{ fee_ocur_time: '2026-03-01T09:00:00+08:00', med_list_codg: 'X1' }] })
        const ctx: DetectContext = { event: ev, stage: 'in', kb: KnowledgeBase.empty(), eventTime: Date.parse(ev.event_time) }
        expect(d.detect(ctx, d.params.parse({}))).toEqual([])
      })
    })
  }

  it('has one audit detector per audit pattern, with the pattern id as its id', () => {
    const auditPatterns = Object.entries(PATTERNS).filter(([, p]) => p.kind === 'audit').map(([id]) => id).sort()
    expect(audit.map((d) => d.id).sort()).toEqual(auditPatterns)
  })

  for (const d of audit) {
    describe(d.id, () => {
      it('documents every parameter and defaults all of them, rejecting unknown ones', () => {
        const json = z.toJSONSchema(d.params, { io: 'input' }) as { properties: Record<string, { description?: string; default?: unknown }> }
        expect(Object.keys(json.properties).length).toBeGreaterThan(0)
        for (const [name, prop] of Object.entries(json.properties)) {
          expect(prop.description, `${d.id}.${name} needs .describe()`).toBeTruthy()
          expect(prop.default, `${d.id}.${name} needs a default`).not.toBeUndefined()
        }
        expect(d.params.safeParse({}).success).toBe(true)
        expect(d.params.safeParse({ no_such_parameter: 1 }).success).toBe(false)
      })

      it('names itself in both languages, cites a basis, and runs after payment only', () => {
        for (const t of [d.title, d.pattern, d.description, d.basis]) {
          expect(t.zh.length).toBeGreaterThan(1)
          expect(t.en.length).toBeGreaterThan(1)
        }
        expect(d.stages).toEqual(['post'])
        expect(typeof d.audit).toBe('function')
      })

      it('has a README in zh and en (with how it prices the amount at risk) and a test file', () => {
        const readme = readFileSync(join(ROOT, 'detectors', d.id, 'README.md'), 'utf8')
        expect(readme).toMatch(/## 中文/)
        expect(readme).toMatch(/## English/)
        expect(readme).toMatch(/涉嫌违规金额/)
        expect(readme).toMatch(/Amount at risk/)
        expect(readme).toMatch(/<!-- params:start -->\n\| name \| type \| default \| description \|/)
        expect(existsSync(join(ROOT, 'detectors', d.id, `${d.id}.test.ts`))).toBe(true)
      })
    })
  }

  it('keeps the generated parameter tables and catalog in step with the code', () => {
    for (const [path, text] of render()) expect(readFileSync(path, 'utf8'), `${path}: run npx tsx scripts/gen-detector-docs.ts`).toBe(text)
  })
})
