import { describe, expect, it } from 'vitest'
import { decode } from '../../src/pipeline/decode.ts'
import type { AnyEvent } from '../../schemas/index.ts'
import { applyEvent, cancelVisit, INTERN_MAX, intern, internedCount, newPerson, ownAlerts } from '../../src/state/apply.ts'
import type { Alert } from '../../schemas/index.ts'
import { visitClosed, visitOpened } from '../helpers/detect.ts'

/**
 * What keeps a person's state small (issue 13; bench/state-footprint.ts
 * measures it): codes are held once (intern), in a table that cannot grow
 * without bound, and a visit holds what a reload from the store would hold.
 */
describe('person state footprint', () => {
  it('holds a diagnosis as the three fields detectors read and a reload holds, not a loose event\'s extra fields', () => {
    const withExtra = (ev: object) => {
      const raw = JSON.parse(JSON.stringify(ev)) as { payload: { diagnoses: Record<string, unknown>[] } }
      for (const d of raw.payload.diagnoses) Object.assign(d, { diag_srt_no: '1', diag_type: '1', note: 'x'.repeat(200) })
      const r = decode(Buffer.from(JSON.stringify(raw)), { maxBytes: 1 << 20, maxLines: 1000, futureToleranceMs: Infinity, now: Date.now })
      if (!r.ok) throw new Error(r.reason)
      return r
    }
    const p = newPerson('PSN000001', 'test/0')
    const opened = withExtra(visitOpened({ psn_no: 'PSN000001', mdtrt_id: 'M1', begntime: '2026-02-02T08:00:00+08:00', diagnoses: [{ diag_code: 'J18.9', diag_name: '肺炎' }] }))
    // The schema lets the extra fields through: the state must not keep them.
    expect(opened.event.event_type === 'visit.opened' && opened.event.payload.diagnoses[0]).toHaveProperty('diag_type', '1')
    applyEvent(p, opened.event, opened.eventTime)
    expect(p.visits.get('M1')!.diagnoses).toStrictEqual([{ diag_code: 'J18.9', diag_name: '肺炎', maindiag_flag: '1' }])
    const closed = withExtra(visitClosed({ psn_no: 'PSN000001', mdtrt_id: 'M1', endtime: '2026-02-05T08:00:00+08:00', dscg_maindiag_code: 'J18.0', diagnoses: [{ diag_code: 'J18.0', diag_name: '支气管肺炎' }] }))
    applyEvent(p, closed.event, closed.eventTime)
    expect(p.visits.get('M1')!.diagnoses).toStrictEqual([{ diag_code: 'J18.0', diag_name: '支气管肺炎', maindiag_flag: '1' }])
  })

  it('keeps a visit one person cancelled out of every other person\'s state (persons with none share one empty list)', () => {
    const [a, b] = [newPerson('PSN00000A', 'test/0'), newPerson('PSN00000B', 'test/0')]
    for (const [p, m] of [[a, 'MA'], [b, 'MB']] as const) {
      const ev = visitOpened({ psn_no: p.psn_no, mdtrt_id: m, begntime: '2026-02-02T08:00:00+08:00' }) as AnyEvent
      applyEvent(p, ev, Date.parse(ev.event_time))
    }
    cancelVisit(a, a.visits.get('MA')!)
    expect([...a.cancelled.keys()]).toEqual(['MA'])
    expect(b.cancelled.size).toBe(0)
    expect(newPerson('PSN00000C', 'test/0').cancelled.size).toBe(0)
    expect(b.visits.has('MB')).toBe(true)
  })

  it('keeps an alert on one person out of every other person\'s state (persons with none share one empty Map)', () => {
    const [a, b] = [newPerson('PSN00000A', 'test/0'), newPerson('PSN00000B', 'test/0')]
    const alert = { alert_id: 'A1', refs: { mdtrt_ids: ['MA'] } } as unknown as Alert
    ownAlerts(a).set(alert.alert_id, alert)
    expect([...a.alerts.keys()]).toEqual(['A1'])
    expect(b.alerts.size).toBe(0)
    expect(newPerson('PSN00000C', 'test/0').alerts.size).toBe(0)
    // A writer that bypasses ownAlerts is refused, not allowed to write into every person's state.
    expect(() => b.alerts.set('A2', alert)).toThrow(/read-only/)
    expect(ownAlerts(a)).toBe(a.alerts)
  })

  it('interns into a bounded table: an equal string back, and never more than INTERN_MAX held', () => {
    const code = ['XB01', 'ACA093A001010100000'].join('')
    expect(intern(code)).toBe('XB01ACA093A001010100000')
    expect(intern(undefined)).toBeUndefined()
    for (let i = 0; i < INTERN_MAX + 100; i++) intern(`C${i}`)
    expect(internedCount()).toBeGreaterThan(0)
    expect(internedCount()).toBeLessThanOrEqual(INTERN_MAX)
    expect(intern(`C${INTERN_MAX + 99}`)).toBe(`C${INTERN_MAX + 99}`)
  })
})
