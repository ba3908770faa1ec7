import { CN_OFFSET_MS, DAY_MS, cnDate, cnDayNumber } from '../util/time.ts'
import type { ReviewConfig } from './config.ts'
import type { OpenStatus } from './workflow.ts'

/** Working day in China time: Mon–Fri unless a holiday, plus weekend days declared working (调休). */
export function isWorkingDay(dayNumber: number, cfg: Pick<ReviewConfig, 'holidays' | 'workdays'>): boolean {
  const date = cnDate(dayNumber * DAY_MS)
  if (cfg.workdays.includes(date)) return true
  if (cfg.holidays.includes(date)) return false
  const weekday = new Date(dayNumber * DAY_MS).getUTCDay() // 1970-01-01 (day 0) was a Thursday; getUTCDay handles it
  return weekday !== 0 && weekday !== 6
}

/**
 * The deadline of a step entered at `enteredMs` with `n` working days: the end
 * (23:59:59.999 China time) of the n-th working day after the day it was
 * entered. Entering on a Friday afternoon with 5 days is due the next Friday.
 */
export function dueAt(enteredMs: number, n: number, cfg: Pick<ReviewConfig, 'holidays' | 'workdays'>): number {
  let day = cnDayNumber(enteredMs)
  for (let left = n; left > 0;) {
    day++
    if (isWorkingDay(day, cfg)) left--
  }
  return (day + 1) * DAY_MS - CN_OFFSET_MS - 1
}

export function stepDeadline(status: OpenStatus, enteredMs: number, cfg: ReviewConfig): number {
  return dueAt(enteredMs, cfg.deadlines[status], cfg)
}

/**
 * Alerts never touched are `new` with a deadline counted from detection. The
 * deadline only grows with the detection day, so "overdue" is "detected before
 * a threshold": the start of the first China day whose deadline has not yet
 * passed. This keeps the overdue filter a plain range condition on detected_at.
 */
export function newOverdueBefore(nowMs: number, cfg: ReviewConfig): number {
  let day = cnDayNumber(nowMs)
  // Walk back to the latest detection day whose deadline is already past.
  while (dueAt(day * DAY_MS - CN_OFFSET_MS, cfg.deadlines.new, cfg) >= nowMs) day--
  return (day + 1) * DAY_MS - CN_OFFSET_MS
}
