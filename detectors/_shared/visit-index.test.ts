import { describe, expect, it } from 'vitest'
import { codeCount, exclusiveGroupCodes, linesWithCode } from './visit-index.ts'
import detector from '../duplicate-charge/index.ts'
import { Timeline, feeReversed, feeUploaded, item, makeKb, visitOpened } from '../../test/helpers/detect.ts'
import { lineState } from '../../src/state/apply.ts'

const at = (h: number) => `2026-03-02T${String(h).padStart(2, '0')}:00:00+08:00`

function setup() {
  const t = new Timeline(detector)
  t.apply(visitOpened({ mdtrt_id: 'V1', begntime: at(8) }))
  const ctx = t.apply(feeUploaded({ mdtrt_id: 'V1', lines: [
    { feedetl_sn: 'A1', fee_ocur_time: at(9), med_list_codg: 'A' },
    { feedetl_sn: 'A2', fee_ocur_time: at(10), med_list_codg: 'A' },
    { feedetl_sn: 'B1', fee_ocur_time: at(9), med_list_codg: 'B' },
  ] }))
  return { t, ctx, visit: ctx.visit! }
}

describe('visit index', () => {
  it('finds a visit\'s lines by item, and new uploads as they are applied', () => {
    const { t, ctx, visit } = setup()
    expect(linesWithCode(ctx, visit, 'A').map((l) => l.feedetl_sn)).toEqual(['A1', 'A2'])
    expect(linesWithCode(ctx, visit, 'C')).toEqual([])
    const next = t.apply(feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'A3', fee_ocur_time: at(11), med_list_codg: 'A' }] }))
    expect(linesWithCode(next, visit, 'A').map((l) => l.feedetl_sn)).toEqual(['A1', 'A2', 'A3'])
    expect(codeCount(next, visit, 'B')).toBe(1)
  })

  it('leaves reversed lines out at read time', () => {
    const { t, ctx, visit } = setup()
    expect(linesWithCode(ctx, visit, 'A')).toHaveLength(2)
    const rev = t.apply(feeReversed({ mdtrt_id: 'V1', feedetl_sns: ['A1'], time: at(12) }))
    expect(linesWithCode(rev, visit, 'A').map((l) => l.feedetl_sn)).toEqual(['A2'])
  })

  it('does not double a redelivered upload', () => {
    const { t, visit } = setup()
    const ev = feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'A9', fee_ocur_time: at(13), med_list_codg: 'A' }] })
    t.apply(ev)
    const again = t.apply(ev)
    expect(linesWithCode(again, visit, 'A').map((l) => l.feedetl_sn)).toEqual(['A1', 'A2', 'A9'])
  })

  it('follows a re-upload that corrects a line\'s item', () => {
    const { t, ctx, visit } = setup()
    expect(linesWithCode(ctx, visit, 'B')).toHaveLength(1)
    const fix = t.apply(feeUploaded({ mdtrt_id: 'V1', lines: [{ feedetl_sn: 'B1', fee_ocur_time: at(9), med_list_codg: 'C' }] }))
    expect(linesWithCode(fix, visit, 'B')).toEqual([])
    expect(linesWithCode(fix, visit, 'C').map((l) => l.feedetl_sn)).toEqual(['B1'])
  })

  it('rebuilds when lines arrived without passing through it (state reloaded or a missed event)', () => {
    const { ctx, visit } = setup()
    expect(linesWithCode(ctx, visit, 'A')).toHaveLength(2)
    const raw = { feedetl_sn: 'A7', fee_ocur_time: at(14), med_list_codg: 'A', medins_list_codg: 'x', list_type: 'service', med_chrgitm_type: '05', cnt: '1', pric: '1.00', det_item_fee_sumamt: '1.00', bilg_dept_codg: 'D', bilg_dr_codg: 'D' } as const
    visit.lines.set('A7', lineState(raw, 'V1', 'ev-x', false))
    expect(linesWithCode(ctx, visit, 'A').map((l) => l.feedetl_sn)).toEqual(['A1', 'A2', 'A7'])
  })

  it('lists the codes of an exclusive group per KB', () => {
    const kb = makeKb({ catalog: [item('N1', { exclusive_group: 'g' }), item('N2', { exclusive_group: 'g' }), item('X')] })
    expect(exclusiveGroupCodes(kb, 'g')).toEqual(['N1', 'N2'])
    expect(exclusiveGroupCodes(kb, 'none')).toEqual([])
  })
})
