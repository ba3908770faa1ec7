import { getLang } from './i18n.ts'

// Times arrive as RFC 3339 UTC; staff think in China time whatever their browser says.
const TZ = 'Asia/Shanghai'

function parts(iso: string): Record<string, string> {
  const d = new Date(iso)
  const out: Record<string, string> = {}
  for (const p of new Intl.DateTimeFormat('en-GB', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(d)) out[p.type] = p.value
  return out
}

/** 2026-03-02 09:15 */
export function when(iso: string | null | undefined): string {
  if (!iso) return ''
  const p = parts(iso)
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`
}

/** 03-02 09:15 — for dense columns within the year. */
export function whenShort(iso: string | null | undefined): string {
  if (!iso) return ''
  const p = parts(iso)
  return `${p.month}-${p.day} ${p.hour}:${p.minute}`
}

export function day(iso: string | null | undefined): string {
  if (!iso) return ''
  const p = parts(iso)
  return `${p.year}-${p.month}-${p.day}`
}

/** ¥12,345.60 from a decimal string, without going through a float for the digits. */
export function money(amount: string | number | null | undefined): string {
  if (amount === null || amount === undefined || amount === '') return ''
  const s = typeof amount === 'number' ? amount.toFixed(2) : amount
  const [int = '0', frac = ''] = s.split('.')
  return `¥${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${(frac + '00').slice(0, 2)}`
}

export function pct(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—'
  return `${(x * 100).toFixed(1)}%`
}

/** "2天后" / "in 2 d" / "超期 3小时" — how long until (or since) a deadline. */
export function dueIn(iso: string | null | undefined, now = Date.now()): { text: string; late: boolean; soon: boolean } {
  if (!iso) return { text: '', late: false, soon: false }
  const ms = Date.parse(iso) - now
  const late = ms < 0
  const abs = Math.abs(ms)
  const h = abs / 3_600_000
  const zh = getLang() === 'zh'
  const amount = h >= 48 ? `${Math.floor(h / 24)}${zh ? '天' : ' d'}` : h >= 1 ? `${Math.floor(h)}${zh ? '小时' : ' h'}` : `${Math.max(1, Math.floor(abs / 60_000))}${zh ? '分钟' : ' min'}`
  const text = late ? (zh ? `超期${amount}` : `${amount} late`) : zh ? `剩${amount}` : `${amount} left`
  return { text, late, soon: !late && h < 24 }
}

/** The start of a China-time day (a date input's value, YYYY-MM-DD) as RFC 3339. */
export function dayStart(v: string): string {
  return new Date(`${v}T00:00:00+08:00`).toISOString()
}

/** The start of the next China-time day: the exclusive end of a range that includes day `v`. */
export function dayAfter(v: string): string {
  return new Date(Date.parse(`${v}T00:00:00+08:00`) + 86_400_000).toISOString()
}
