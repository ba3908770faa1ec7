import { existsSync, readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import { Config, configFromEnv, requireKafkaBrokers } from '../config.ts'
import { FundwatchError } from '../errors.ts'
import { faultFromEnv } from '../kafka/processor.ts'
import { kafkaSecurity } from '../kafka/security.ts'
import { topicNames } from '../kafka/topics.ts'
import { loadChdb } from '../store/store.ts'

/**
 * `fundwatch config check`: judges an environment (this process's, or an env
 * file's alone) the way each role's start-up does — the same configFromEnv and
 * the same role rules (brokers for the processor, the test-only fault switch,
 * the embedded engine being installed) — and says what each role would use,
 * secrets masked. It opens no connection: a passing check means the role gets
 * past its configuration, not that ClickHouse or Kafka answer.
 */
export const ROLES = {
  processor: { command: 'run', what: 'the Kafka processor' },
  api: { command: 'serve', what: 'the API and console' },
  audit: { command: 'audit', what: 'the scheduled audit (事后)' },
  migrate: { command: 'migrate', what: 'the schema migration job' },
  topics: { command: 'topics create', what: 'topic creation' },
} as const
export type Role = keyof typeof ROLES

export interface RoleVerdict {
  role: Role
  command: string
  ok: boolean
  error?: string
  /** What the role would use, in words, secrets masked. */
  uses: Record<string, string>
}

export interface CheckResult {
  source: string
  ok: boolean
  /** Every setting as the role would see it (secrets masked); undefined when the environment does not parse. */
  settings?: Record<string, { value: string; default: boolean }>
  roles: RoleVerdict[]
}

const SECRET_KEY = /password|secret|token|credential/i

/** A value as it may be printed: passwords in URLs and secret-named settings masked. */
export function mask(key: string, value: unknown): string {
  if (value === undefined) return '(unset)'
  const s = String(value)
  if (SECRET_KEY.test(key)) return s ? '****' : ''
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@/\s]*@/i, '$1:****@')
}

/** An env file as `docker compose` and Kubernetes hand it over: KEY=value lines, comments, quotes. */
export function readEnvFile(path: string): Record<string, string> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new FundwatchError('CONFIG_INVALID', `cannot read the env file ${path}: ${(cause as Error).message}`, { cause })
  }
  return Object.fromEntries(Object.entries(parseEnv(text)).filter((e): e is [string, string] => e[1] !== undefined))
}

function storeUses(c: Config): string {
  return c.clickhouseUrl
    ? `ClickHouse server ${mask('clickhouseUrl', c.clickhouseUrl)}, database ${c.database}${c.cluster ? `, cluster ${c.cluster}` : ''}`
    : `embedded chDB in ${c.dataDir}, database ${c.database}`
}

function fileUses(path: string | undefined, unset: string): string {
  if (!path) return unset
  return `${path}${existsSync(path) ? '' : ' (not on this machine: checked where the role runs)'}`
}

function uses(role: Role, c: Config): Record<string, string> {
  const kb = fileUses(c.kbDir, 'the generated SAMPLE knowledge base (FUNDWATCH_KB unset): synthetic catalogue, institutions and persons, not a real one')
  const inStore = 'the version in force in the store'
  const rules = c.rulesFile ? `${inStore}; ${fileUses(c.rulesFile, '')} recorded as a new version when its text is new` : `${inStore} (FUNDWATCH_RULES unset)`
  // The long-running roles follow it; audit reads it once.
  const followed = `${rules}, polled every ${c.rulesPollMs} ms`
  const topics = () => Object.values(topicNames(c.topicPrefix)).join(', ')
  switch (role) {
    case 'processor':
      return {
        store: storeUses(c),
        kafka: `${c.kafkaBrokers}, group ${c.groupId}, fetch ${c.fetchMaxBytes} B per partition, session timeout ${c.sessionTimeoutMs} ms`,
        topics: topics(),
        http: c.metricsPort ? `/metrics and the probes /livez, /readyz on ${c.host}:${c.metricsPort} (no API)` : c.port ? `the whole API on ${c.host}:${c.port}` : 'none (PORT=0)',
        'knowledge base': kb,
        rules: followed,
        limits: `records ≤ ${c.maxRecordBytes} B, ≤ ${c.maxLinesPerEvent} lines per event, person cache ≤ ${c.maxPersons} persons and ≤ ${c.stateMaxMb} MiB`,
      }
    case 'api':
      return {
        store: storeUses(c),
        http: `${c.host}:${c.port}${c.trustProxy ? `, trusting X-Forwarded-For from ${c.trustProxy}` : ''}`,
        'live feed': c.kafkaBrokers ? `the alerts topic ${topicNames(c.topicPrefix).alerts} on ${c.kafkaBrokers}` : 'none (KAFKA_BROKERS unset)',
        'knowledge base': kb,
        rules: followed,
      }
    case 'audit':
      return {
        store: storeUses(c),
        alerts: c.kafkaBrokers ? `stored, and published to ${topicNames(c.topicPrefix).alerts} on ${c.kafkaBrokers}` : 'stored only (KAFKA_BROKERS unset)',
        metrics: c.pushgatewayUrl ? `pushed to ${mask('pushgatewayUrl', c.pushgatewayUrl)}` : 'not pushed (FUNDWATCH_PUSHGATEWAY_URL unset)',
        'knowledge base': kb,
        rules,
      }
    case 'migrate':
      return { store: storeUses(c) }
    case 'topics':
      return { kafka: String(c.kafkaBrokers), topics: topics() }
  }
}

/** What start-up refuses for this role, beyond configFromEnv: the same functions the role calls. */
async function startupRules(role: Role, c: Config, env: NodeJS.ProcessEnv): Promise<void> {
  if (role === 'processor') {
    requireKafkaBrokers(c, 'fundwatch run')
    faultFromEnv(env)
  }
  if (role === 'topics') requireKafkaBrokers(c, 'fundwatch topics create')
  // The TLS and SASL files, read and checked as the Kafka client will read them.
  if (role === 'processor' || role === 'topics') kafkaSecurity(c)
  if (role !== 'topics' && !c.clickhouseUrl) await loadChdb()
}

export async function checkConfig(env: NodeJS.ProcessEnv, roles: readonly Role[], source: string): Promise<CheckResult> {
  let config: Config
  try {
    config = configFromEnv(env)
  } catch (err) {
    const error = describe(err)
    return { source, ok: false, roles: roles.map((role) => ({ role, command: ROLES[role].command, ok: false, error, uses: {} })) }
  }
  const defaults: Record<string, unknown> = Config.safeParse({}).data ?? {}
  const all = config as Record<string, unknown>
  const settings = Object.fromEntries(Object.keys(Config.shape).map((k) => [k, { value: all[k] === '' ? '(empty)' : mask(k, all[k]), default: all[k] === defaults[k] }]))
  const verdicts: RoleVerdict[] = []
  for (const role of roles) {
    try {
      await startupRules(role, config, env)
      verdicts.push({ role, command: ROLES[role].command, ok: true, uses: uses(role, config) })
    } catch (err) {
      verdicts.push({ role, command: ROLES[role].command, ok: false, error: describe(err), uses: {} })
    }
  }
  return { source, ok: verdicts.every((v) => v.ok), settings, roles: verdicts }
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string }
  return `${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`
}

export function formatCheck(r: CheckResult): string {
  const lines = [`fundwatch config check: ${r.source}`]
  if (r.settings) {
    const w = Math.max(...Object.keys(r.settings).map((k) => k.length)) + 2
    lines.push('', 'settings:', ...Object.entries(r.settings).map(([k, s]) => `  ${k.padEnd(w)}${s.value}${s.default ? '  (default)' : ''}`))
  }
  for (const v of r.roles) {
    lines.push('', `${v.role} (fundwatch ${v.command}): ${v.ok ? 'ok' : `FAILS — ${v.error}`}`)
    const w = Math.max(0, ...Object.keys(v.uses).map((k) => k.length)) + 2
    for (const [k, u] of Object.entries(v.uses)) lines.push(`  ${k.padEnd(w)}${u}`)
  }
  lines.push('', r.ok ? 'every role checked would start with this configuration' : 'a role would refuse to start: see above')
  return lines.join('\n')
}

export async function configCommand(flags: { 'env-file'?: string[]; role?: string[]; json?: boolean }): Promise<number> {
  const known = Object.keys(ROLES) as Role[]
  const roles = flags.role?.length ? flags.role : known
  const unknown = roles.filter((r) => !known.includes(r as Role))
  if (unknown.length) throw new FundwatchError('BAD_REQUEST', `unknown role "${unknown[0]}" (one of ${known.join(', ')})`)
  // Several files are layered in order, later ones winning, as compose's env_file list.
  const files = flags['env-file'] ?? []
  const env = files.length ? Object.assign({}, ...files.map(readEnvFile)) as Record<string, string> : process.env
  const r = await checkConfig(env, roles as Role[], files.length ? `${files.join(' + ')} (alone: this process's environment is not read)` : 'this process\'s environment')
  console.log(flags.json ? JSON.stringify(r, null, 2) : formatCheck(r))
  return r.ok ? 0 : 1
}
