import { z } from 'zod'

/**
 * How long personal fields and raw received text are kept, as ClickHouse
 * TTLs. Each rule empties its columns (a column TTL resets them to the
 * default, '') once the row's own time is older than the configured days; the
 * row — the fund-use record a detector, an alert or an inspector relies on —
 * stays. The defaults and the regulation behind them: docs/clickhouse.md#retention.
 *
 * `fundwatch migrate` applies the configured days and records them
 * (retention_applied); a later run with other days re-issues the TTL, one with
 * the same days issues nothing (a TTL change rewrites every part).
 */
export const RETENTION_RULES = [
  {
    key: 'events_raw', env: 'FUNDWATCH_RETENTION_EVENTS_RAW', table: 'events', columns: ['raw'], time: 'event_time', days: 1827,
    what: 'events.raw: every event as received (names, 身份证号, birthdays inside)',
  },
  {
    key: 'visits_personal', env: 'FUNDWATCH_RETENTION_VISITS_PERSONAL', table: 'visits', columns: ['certno', 'psn_name', 'brdy'], time: 'begntime', days: 1827,
    // Detectors read a person's birthday from visits up to 366 days before
    // their state window (src/state/cache.ts): emptying it sooner would
    // change what they find.
    min: 731,
    what: 'visits.certno, psn_name, brdy: the person\'s 身份证号, name and birthday on each visit',
  },
  {
    key: 'dead_letters_raw', env: 'FUNDWATCH_RETENTION_DEAD_LETTERS_RAW', table: 'dead_letters', columns: ['raw_base64'], time: 'received_at', days: 365,
    what: 'dead_letters.raw_base64: a rejected record as received',
  },
] as const satisfies readonly { key: string; env: string; table: string; columns: readonly string[]; time: string; days: number; min?: number; what: string }[]

export type RetentionKey = (typeof RETENTION_RULES)[number]['key']

type Rule = (typeof RETENTION_RULES)[number]
const rule = (key: RetentionKey): Rule => RETENTION_RULES.find((r) => r.key === key)!
function days(r: Rule) {
  const min = 'min' in r ? r.min : 1
  return z.coerce.number().int().min(0).max(36_500).default(r.days)
    .refine((d) => d === 0 || d >= min, `${r.env}: 0 (keep) or at least ${min} days`)
    .describe(`${r.what}: days to keep (${r.env}; default ${r.days}, 0 = for ever)`)
}

/** Days per rule; 0 keeps the columns for ever (no TTL). */
export const Retention = z.object({
  events_raw: days(rule('events_raw')),
  visits_personal: days(rule('visits_personal')),
  dead_letters_raw: days(rule('dead_letters_raw')),
}).strict()
export type Retention = z.infer<typeof Retention>

export const DEFAULT_RETENTION: Retention = Retention.parse({})

export function retentionFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(RETENTION_RULES.filter((r) => env[r.env]).map((r) => [r.key, env[r.env]!]))
}

/** The statement that sets one rule's TTL to `days` (days is an integer from the schema above). */
export function retentionStatement(r: Rule, days: number): string {
  if (!Number.isInteger(days) || days < 0) throw new Error(`retention days must be a whole number, not ${days}`)
  const each = r.columns.map((c) => days === 0
    ? `MODIFY COLUMN ${c} REMOVE TTL`
    : `MODIFY COLUMN ${c} TTL toDateTime(${r.time}) + INTERVAL ${days} DAY`)
  return `ALTER TABLE {db}.${r.table} ${each.join(', ')}`
}
