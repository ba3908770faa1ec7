import { FundwatchError } from '../errors.ts'

/** All of China keeps one civil time (UTC+8): "a day" in rules (单日, 自然月) means a China day. */
export const CN_OFFSET_MS = 8 * 3600_000
export const DAY_MS = 86_400_000

/** Days since the epoch, counted in China time. */
export function cnDayNumber(ms: number): number {
  return Math.floor((ms + CN_OFFSET_MS) / DAY_MS)
}

/** The instant a China day begins (00:00 +08:00), for the day holding `ms`. */
export function cnDayStart(ms: number): number {
  return cnDayNumber(ms) * DAY_MS - CN_OFFSET_MS
}

/** YYYY-MM-DD of an instant, in China time. */
export function cnDate(ms: number): string {
  return new Date(ms + CN_OFFSET_MS).toISOString().slice(0, 10)
}

/** RFC 3339 with +08:00, e.g. 2026-03-02T09:15:00+08:00. */
export function cnIso(ms: number): string {
  return new Date(ms + CN_OFFSET_MS).toISOString().replace(/\.\d{3}Z$/, '+08:00')
}

/** ClickHouse DateTime64(3) text in UTC, for inserts. */
export function chTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '')
}

/** Parse ClickHouse DateTime64 text (UTC) back to epoch ms. */
export function fromChTime(s: string): number {
  return Date.parse(s.replace(' ', 'T') + 'Z')
}

/** A China day (YYYY-MM-DD) or an RFC 3339 instant, as epoch ms; a day given as the end means the end of that day. */
export function parseWhen(s: string, end: boolean): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) {
    const t = Date.parse(`${s}T00:00:00+08:00`)
    if (Number.isNaN(t)) throw new FundwatchError('BAD_REQUEST', `not a date: ${s}`)
    return end ? t + DAY_MS : t
  }
  const t = Date.parse(s)
  if (Number.isNaN(t) || !/[zZ]|[+-]\d{2}:\d{2}$/.test(s)) throw new FundwatchError('BAD_REQUEST', `not a YYYY-MM-DD date or an RFC 3339 time with offset: ${s}`)
  return t
}
