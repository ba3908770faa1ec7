import { describe, expect, it } from 'vitest'
import { ROLES } from '../../src/auth/principal.ts'
import type { FundwatchError } from '../../src/errors.ts'
import { reviewConfig } from '../../src/review/config.ts'
import { dueAt, isWorkingDay, newOverdueBefore } from '../../src/review/deadlines.ts'
import { STATUSES, TRANSITIONS, checkTransition } from '../../src/review/workflow.ts'
import { cnDayNumber } from '../../src/util/time.ts'

const code = (fn: () => unknown): string | undefined => {
  try {
    fn()
    return undefined
  } catch (e) {
    return (e as FundwatchError).code
  }
}

describe('the handling process (state machine)', () => {
  it('allows exactly the listed steps, each only for its roles', () => {
    for (const from of STATUSES) {
      for (const to of STATUSES) {
        const rule = TRANSITIONS.find((t) => t.from === from && t.to === to)
        for (const role of ROLES) {
          const got = code(() => checkTransition(from, { to, reason: 'checked on site', decision: { recovered_amount: '1.00' } }, role))
          if (!rule) expect(got, `${from}→${to} as ${role}`).toBe('TRANSITION_REFUSED')
          else expect(got, `${from}→${to} as ${role}`).toBe(rule.roles.includes(role) ? undefined : 'FORBIDDEN')
        }
      }
    }
  })

  it('runs the five steps in order and refuses skipping ahead', () => {
    const path = ['new', 'first_review', 'second_review', 'appeal', 'investigation', 'decided'] as const
    for (let i = 0; i + 1 < path.length; i++) expect(code(() => checkTransition(path[i]!, { to: path[i + 1]!, decision: { recovered_amount: '1.00' } }, 'inspector'))).toBeUndefined()
    expect(code(() => checkTransition('new', { to: 'second_review' }, 'admin'))).toBe('TRANSITION_REFUSED')
    expect(code(() => checkTransition('new', { to: 'decided', decision: {} }, 'inspector'))).toBe('TRANSITION_REFUSED')
    expect(code(() => checkTransition('first_review', { to: 'appeal' }, 'inspector'))).toBe('TRANSITION_REFUSED')
    expect(code(() => checkTransition('decided', { to: 'dismissed', reason: 'changed my mind' }, 'inspector'))).toBe('TRANSITION_REFUSED')
  })

  it('needs a reason to dismiss or reopen and a decision to decide', () => {
    expect(code(() => checkTransition('first_review', { to: 'dismissed' }, 'monitor'))).toBe('BAD_REQUEST')
    expect(code(() => checkTransition('first_review', { to: 'dismissed', reason: ' ' }, 'monitor'))).toBe('BAD_REQUEST')
    expect(code(() => checkTransition('dismissed', { to: 'first_review' }, 'inspector'))).toBe('BAD_REQUEST')
    expect(code(() => checkTransition('investigation', { to: 'decided' }, 'inspector'))).toBe('BAD_REQUEST')
  })

  it('keeps monitors to first and second review', () => {
    expect(code(() => checkTransition('second_review', { to: 'appeal' }, 'monitor'))).toBe('FORBIDDEN')
    expect(code(() => checkTransition('appeal', { to: 'dismissed', reason: '机构申诉成立' }, 'monitor'))).toBe('FORBIDDEN')
    expect(code(() => checkTransition('second_review', { to: 'dismissed', reason: '数据录入错误' }, 'monitor'))).toBeUndefined()
    expect(code(() => checkTransition('new', { to: 'first_review' }, 'precheck'))).toBe('FORBIDDEN')
  })
})

describe('deadlines in working days (China time)', () => {
  const cfg = reviewConfig({})
  const cn = (s: string) => Date.parse(s)

  it('counts Mon–Fri and ends at the end of the last day', () => {
    // Monday 2026-03-02 14:00 + 5 working days = Monday 2026-03-09, 23:59:59.999 +08:00.
    expect(new Date(dueAt(cn('2026-03-02T14:00:00+08:00'), 5, cfg)).toISOString()).toBe('2026-03-09T15:59:59.999Z')
    // Friday evening + 1 = Monday.
    expect(new Date(dueAt(cn('2026-03-06T23:30:00+08:00'), 1, cfg)).toISOString()).toBe('2026-03-09T15:59:59.999Z')
    // Saturday + 1 = Monday too.
    expect(new Date(dueAt(cn('2026-03-07T10:00:00+08:00'), 1, cfg)).toISOString()).toBe('2026-03-09T15:59:59.999Z')
    // 00:30 China time is still the same China day (UTC says the previous day).
    expect(new Date(dueAt(cn('2026-03-03T00:30:00+08:00'), 1, cfg)).toISOString()).toBe('2026-03-04T15:59:59.999Z')
  })

  it('skips configured holidays and counts declared working weekends (调休)', () => {
    const holiday = reviewConfig({ holidays: ['2026-05-01', '2026-05-04', '2026-05-05'], workdays: ['2026-05-09'] })
    expect(isWorkingDay(cnDayNumber(cn('2026-05-01T12:00:00+08:00')), holiday)).toBe(false)
    expect(isWorkingDay(cnDayNumber(cn('2026-05-09T12:00:00+08:00')), holiday)).toBe(true)
    // Thu 2026-04-30 + 2: Fri 5/1 holiday, weekend, Mon 5/4 and Tue 5/5 holidays → Wed 5/6, Thu 5/7.
    expect(new Date(dueAt(cn('2026-04-30T09:00:00+08:00'), 2, holiday)).toISOString()).toBe('2026-05-07T15:59:59.999Z')
    // Wed 5/6 + 3: Thu 5/7, Fri 5/8, Sat 5/9 (调休 working day).
    expect(new Date(dueAt(cn('2026-05-06T09:00:00+08:00'), 3, holiday)).toISOString()).toBe('2026-05-09T15:59:59.999Z')
  })

  it('rejects a malformed configuration', () => {
    expect(() => reviewConfig({ deadlines: { first_review: 0 } })).toThrow(/first_review/)
    expect(() => reviewConfig({ deadlines: { triage: 3 } })).toThrow()
    expect(() => reviewConfig({ holidays: ['May 1st'] })).toThrow(/holidays/)
  })

  it('turns the overdue rule for untouched alerts into one detection-time threshold', () => {
    // Brute force: for many "now"s and detection times, overdue ⇔ detected before the threshold.
    const cfgs = [cfg, reviewConfig({ deadlines: { new: 1 }, holidays: ['2026-03-10'] })]
    for (const c of cfgs) {
      for (let now = cn('2026-03-02T00:00:00+08:00'); now < cn('2026-03-20T00:00:00+08:00'); now += 7 * 3600_000 + 17 * 60_000) {
        const threshold = newOverdueBefore(now, c)
        for (let t = now - 12 * 86_400_000; t <= now; t += 5 * 3600_000 + 13 * 60_000) {
          expect(dueAt(t, c.deadlines.new, c) < now, `now=${new Date(now).toISOString()} t=${new Date(t).toISOString()}`).toBe(t < threshold)
        }
      }
    }
  })
})
