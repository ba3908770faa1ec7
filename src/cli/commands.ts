import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

/**
 * The map of the CLI: every command with its flags and help, parsed by one
 * `parseArgs` call (strict) in `cli()`. This module loads nothing of the app:
 * `--help` and `--version` answer from here alone, and a command's module is
 * imported only when the command runs.
 *
 * Exit status: 0 done; 1 a runtime failure (one line says what to do, no
 * stack trace unless LOG_LEVEL=debug); 2 a usage error (unknown command or
 * flag, missing argument, a flag value that is not what it should be).
 */
export interface Flag {
  type: 'string' | 'boolean'
  short?: string
  multiple?: boolean
  /** The value's placeholder in the help, e.g. `dir`. */
  value?: string
  help: string
}
export type Flags = Record<string, string | boolean | string[] | undefined>

export interface Command {
  name: string
  /** Positional arguments as the usage line shows them, e.g. `<file.jsonl>`. */
  args?: string
  /** How many positionals it takes; default none. */
  positionals?: { min: number; max: number }
  /** When set, the first positional must be one of these. */
  subcommands?: readonly string[]
  summary: string
  /** More help, printed under the usage line. */
  help?: string
  flags: Record<string, Flag>
  /** The environment variables it reads (described in the main help). */
  env?: readonly string[]
  run(flags: Flags, positionals: string[]): Promise<number>
}

/** The environment variables fundwatch reads, as the main help and the README's configuration table list them. */
export const ENVIRONMENT: readonly { name: string; help: string }[] = [
  { name: 'PORT', help: 'HTTP port of the console, API, /metrics and the probes /livez, /readyz (default 8080; 0 = a free port, or none for `run`)' },
  { name: 'HOST', help: 'HTTP bind address (default 127.0.0.1)' },
  { name: 'FUNDWATCH_DATA_DIR', help: 'chDB data directory, embedded mode (default .data)' },
  { name: 'CLICKHOUSE_URL', help: 'a ClickHouse server instead of embedded chDB, e.g. http://user:pass@ch:8123' },
  { name: 'FUNDWATCH_DB', help: 'database name (default fundwatch)' },
  { name: 'FUNDWATCH_MIGRATE', help: 'auto (default): roles migrate the store as they start; false: only `fundwatch migrate` does, the others refuse an old schema' },
  { name: 'FUNDWATCH_CLUSTER', help: 'a ClickHouse cluster (with CLICKHOUSE_URL): migrate ON CLUSTER, sharded and replicated (docs/clickhouse.md)' },
  { name: 'FUNDWATCH_RETENTION_EVENTS_RAW', help: 'days to keep raw event text (default 1827; 0 = for ever)' },
  { name: 'FUNDWATCH_RETENTION_VISITS_PERSONAL', help: 'days to keep 身份证号, name and birthday on visits (default 1827, at least 731; 0 = for ever)' },
  { name: 'FUNDWATCH_RETENTION_DEAD_LETTERS_RAW', help: 'days to keep rejected records as received (default 365; 0 = for ever)' },
  { name: 'FUNDWATCH_KB', help: 'knowledge-base directory (default: the generated sample); --kb' },
  { name: 'FUNDWATCH_RULES', help: 'rule-base file, YAML or JSON, recorded as a new version when its text is new (default: the version in force in the store); --rules' },
  { name: 'FUNDWATCH_RULES_POLL_MS', help: 'how often running roles look for a new rule-base version in the store (default 5000)' },
  { name: 'FUNDWATCH_REVIEW', help: 'review workflow file, YAML or JSON: deadlines in working days, holidays, 调休 workdays (default: built-in deadlines)' },
  { name: 'KAFKA_BROKERS', help: 'comma-separated Kafka bootstrap brokers (run, topics; serve and audit also publish/follow with it)' },
  { name: 'KAFKA_SASL_MECHANISM', help: 'SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN for a secured cluster (default: no SASL); docs/kafka.md' },
  { name: 'KAFKA_SASL_USERNAME', help: 'SASL user' },
  { name: 'KAFKA_SASL_PASSWORD', help: 'SASL password (never printed), or:' },
  { name: 'KAFKA_SASL_PASSWORD_FILE', help: 'a file holding it, e.g. a mounted secret' },
  { name: 'KAFKA_SSL', help: 'true: TLS to the brokers (default false)' },
  { name: 'KAFKA_SSL_CA_FILE', help: 'PEM of the CA that signed the brokers\' certificates (default: the system\'s CAs)' },
  { name: 'KAFKA_SSL_CERT_FILE', help: 'PEM client certificate, for brokers that require one; with KAFKA_SSL_KEY_FILE' },
  { name: 'KAFKA_SSL_KEY_FILE', help: 'its unencrypted PEM private key' },
  { name: 'FUNDWATCH_TOPIC_PREFIX', help: 'prefix of the topic names (default none)' },
  { name: 'FUNDWATCH_GROUP', help: 'Kafka consumer group of the processors (default fundwatch-processor)' },
  { name: 'FUNDWATCH_FETCH_MAX_BYTES', help: 'Kafka fetch size per partition, and the byte bound of a Kafka batch (default 4 MiB)' },
  { name: 'FUNDWATCH_SESSION_TIMEOUT_MS', help: 'how long a dead processor keeps its partitions (default 30000)' },
  { name: 'FUNDWATCH_MAX_RECORD_BYTES', help: 'larger records are dead-lettered as oversized (default 1 MiB)' },
  { name: 'FUNDWATCH_MAX_LINES_PER_EVENT', help: 'more fee lines in one event are dead-lettered as too_many_lines (default and most 1000)' },
  { name: 'FUNDWATCH_BATCH_SIZE', help: 'records per batch (default 10000); a Kafka batch gathers fetches up to it' },
  { name: 'FUNDWATCH_BATCH_LINGER_MS', help: 'how long a Kafka or live batch waits for more records after its first (default 100)' },
  { name: 'FUNDWATCH_MAX_PERSONS', help: 'person-state cache bound (default 500000)' },
  { name: 'FUNDWATCH_STATE_MAX_MB', help: 'person-state cache bound in MiB of estimated heap (default a quarter of the heap limit); least recently touched persons go first' },
  { name: 'FUNDWATCH_TRUST_PROXY', help: 'addresses/CIDRs of the load balancers in front of the API, or true (rate limits then count the client)' },
  { name: 'METRICS_PORT', help: '`run` only: serve /metrics and the probes on this port and no API' },
  { name: 'FUNDWATCH_PUSHGATEWAY_URL', help: '`audit` pushes its run metrics to this Prometheus Pushgateway' },
  { name: 'FUNDWATCH_COMMIT', help: 'the commit shown in fundwatch_build_info' },
  { name: 'LOG_LEVEL', help: 'fatal|error|warn|info|debug|trace|silent (default info; replay, audit, backtest, users, evidence, dlq, rules default to warn); debug also prints the stack of a failure' },
  { name: 'FUNDWATCH_FAULT', help: 'test only: `run` kills itself with SIGKILL at a named point (<after-detect|after-store|after-commit|rebalance>:<n>); refused unless NODE_ENV=test' },
]

const KB: Flag = { type: 'string', value: 'dir', help: 'knowledge base directory: catalog, institutions, doctors, persons, groups, diagnoses (FUNDWATCH_KB)' }
const RULES: Flag = { type: 'string', value: 'file', help: 'rule base, YAML or JSON: which detectors run, parameters, scopes (FUNDWATCH_RULES); recorded as a new version when its text is new, and followed while running' }
const DATA_DIR: Flag = { type: 'string', value: 'dir', help: 'chDB data directory (FUNDWATCH_DATA_DIR, default .data)' }
const PORT: Flag = { type: 'string', value: 'n', help: 'HTTP port (PORT, default 8080)' }
const STORE_ENV = ['FUNDWATCH_DATA_DIR', 'CLICKHOUSE_URL', 'FUNDWATCH_DB', 'FUNDWATCH_CLUSTER', 'LOG_LEVEL'] as const
const SECURED_KAFKA_ENV = ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE', 'KAFKA_SSL', 'KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const

function command<F>(c: Omit<Command, 'run'> & { run(flags: F, positionals: string[]): Promise<number> }): Command {
  return c as unknown as Command
}

export const COMMANDS: readonly Command[] = [
  command({
    name: 'start',
    summary: 'embedded all-in-one: generator → pipeline → chDB, console and API on PORT',
    help: 'Replays a generated 40-day history and audits it, then streams live generated claims\nuntil stopped (SIGINT/SIGTERM). On the first start it creates an admin and prints\nits console link once.',
    flags: { kb: KB, rules: RULES, 'data-dir': DATA_DIR, port: PORT, rate: { type: 'string', value: 'n', help: 'live events per second after the history (default 300)' }, seed: { type: 'string', value: 'n', help: 'generator seed (default: from the clock)' } },
    env: ['PORT', 'HOST', ...STORE_ENV, 'FUNDWATCH_REVIEW', 'FUNDWATCH_RULES_POLL_MS', 'FUNDWATCH_BATCH_LINGER_MS'],
    run: async (f: { port?: string; rate?: string; seed?: string }) => (await import('./start.ts')).start(f),
  }),
  command({
    name: 'replay',
    args: '<file.jsonl>',
    positionals: { min: 1, max: 1 },
    summary: 'replay a JSON-lines event file through the pipeline into the store (progress, summary)',
    help: 'Records that fail validation are stored in the dead_letters table with their reason;\nthe summary says how many and `fundwatch dlq list` shows them.\n--format national reads one logged national platform transaction a line (docs/national.md).',
    flags: {
      kb: KB, rules: RULES, 'data-dir': DATA_DIR, 'batch-size': { type: 'string', value: 'n', help: 'records per batch (FUNDWATCH_BATCH_SIZE, default 10000)' },
      format: { type: 'string', value: 'contract|national', help: 'what a line is: a contract event (default) or a national transaction {"request", "response"}' },
    },
    env: [...STORE_ENV, 'FUNDWATCH_BATCH_SIZE', 'FUNDWATCH_MAX_RECORD_BYTES', 'FUNDWATCH_MAX_LINES_PER_EVENT'],
    run: async (f: { 'batch-size'?: string; format?: string }, [file]) => (await import('./replay.ts')).replay(file!, f),
  }),
  command({
    name: 'generate',
    summary: 'write a labelled synthetic dataset (events, labels, near misses, knowledge base)',
    flags: {
      out: { type: 'string', value: 'dir', help: 'output directory (default dataset)' },
      seed: { type: 'string', value: 'n', help: 'random seed (default 1): the same seed writes the same data' },
      persons: { type: 'string', value: 'n', help: 'insured persons' },
      days: { type: 'string', value: 'n', help: 'days of history' },
      'fee-lines': { type: 'string', value: 'n', help: 'about this many fee lines (sizes persons and days)' },
      'fraud-rate': { type: 'string', value: 'r', help: 'share of visits with an injected finding, 0..1' },
      format: { type: 'string', value: 'f', help: 'contract (default): events.jsonl of contract events; national: national.jsonl of the national platform\'s transactions (docs/national.md)' },
    },
    run: async (f: { out?: string }) => (await import('./generate.ts')).generate(f),
  }),
  command({
    name: 'migrate',
    summary: 'create or upgrade the ClickHouse tables (idempotent, versioned)',
    flags: { 'data-dir': DATA_DIR },
    env: STORE_ENV,
    run: async (f: { 'data-dir'?: string }) => (await import('./migrate.ts')).migrateCmd(f),
  }),
  command({
    name: 'run',
    summary: 'Kafka processor: consume the claims, inventory and national topics as one consumer-group member',
    help: 'Needs KAFKA_BROKERS. Serves /metrics and the probes on METRICS_PORT, else the whole API\non PORT (PORT=0: no HTTP). Stops on SIGINT/SIGTERM after the batch in flight.',
    flags: { kb: KB, rules: RULES, 'data-dir': DATA_DIR, port: PORT, 'from-latest': { type: 'boolean', help: 'a new consumer group starts at the end of the topics (default: the beginning)' } },
    env: ['KAFKA_BROKERS', ...SECURED_KAFKA_ENV, 'FUNDWATCH_TOPIC_PREFIX', 'FUNDWATCH_GROUP', 'FUNDWATCH_BATCH_SIZE', 'FUNDWATCH_BATCH_LINGER_MS', 'FUNDWATCH_FETCH_MAX_BYTES', 'FUNDWATCH_SESSION_TIMEOUT_MS', 'FUNDWATCH_MAX_RECORD_BYTES', 'FUNDWATCH_MAX_LINES_PER_EVENT', 'METRICS_PORT', 'PORT', 'HOST', 'FUNDWATCH_RULES_POLL_MS', ...STORE_ENV],
    run: async (f: { port?: string; 'from-latest'?: boolean }) => (await import('./roles.ts')).runCmd(f),
  }),
  command({
    name: 'serve',
    summary: 'the API and console alone (no generator, no pipeline); with KAFKA_BROKERS the live feed follows the alerts topic',
    flags: { kb: KB, rules: RULES, 'data-dir': DATA_DIR, port: PORT },
    env: ['PORT', 'HOST', 'KAFKA_BROKERS', ...SECURED_KAFKA_ENV, 'FUNDWATCH_TOPIC_PREFIX', 'FUNDWATCH_TRUST_PROXY', 'FUNDWATCH_REVIEW', 'FUNDWATCH_RULES_POLL_MS', ...STORE_ENV],
    run: async (f: { port?: string }) => (await import('./roles.ts')).serveCmd(f),
  }),
  command({
    name: 'topics',
    args: 'create',
    positionals: { min: 1, max: 1 },
    subcommands: ['create'],
    summary: 'create the Kafka topics (KAFKA_BROKERS, FUNDWATCH_TOPIC_PREFIX)',
    flags: {
      partitions: { type: 'string', value: 'n', help: 'partitions per topic' },
      'replication-factor': { type: 'string', value: 'n', help: 'replicas per partition' },
      'retention-ms': { type: 'string', value: 'ms', help: 'retention of the claims topics' },
    },
    env: ['KAFKA_BROKERS', ...SECURED_KAFKA_ENV, 'FUNDWATCH_TOPIC_PREFIX'],
    run: async (f: { partitions?: string }) => (await import('./roles.ts')).topicsCmd(f),
  }),
  command({
    name: 'config',
    args: 'check',
    positionals: { min: 1, max: 1 },
    subcommands: ['check'],
    summary: 'check an environment as start-up does and print what each role (processor, api, audit, migrate, topics) would use',
    help: 'Judges the environment with the same code each role runs at start-up, secrets masked;\nopens no connection. Exit 1 when a role would refuse to start.\nWith --env-file the file alone is judged (as a container gets it), not this shell\'s environment.',
    flags: {
      'env-file': { type: 'string', multiple: true, value: 'file', help: 'judge this env file (KEY=value lines) instead of the environment; several are layered, later ones winning' },
      role: { type: 'string', multiple: true, value: 'role', help: 'only this role: processor, api, audit, migrate, topics (default: all)' },
      json: { type: 'boolean', help: 'print the result as JSON' },
    },
    run: async (f: { 'env-file'?: string[]; role?: string[]; json?: boolean }) => (await import('./config-check.ts')).configCommand(f),
  }),
  command({
    name: 'chdb-server',
    summary: 'serve the chDB data directory over ClickHouse HTTP, for several local processes',
    flags: { 'data-dir': DATA_DIR, port: { type: 'string', value: 'n', help: 'port (default 8123)' } },
    env: ['FUNDWATCH_DATA_DIR'],
    run: async (f: { port?: string }) => (await import('./roles.ts')).chdbServerCmd(f),
  }),
  command({
    name: 'evaluate',
    summary: 'generate a labelled dataset, replay it into a scratch store, print per-detector precision and recall',
    help: 'TP counts alerts that match a label (an over-quantity label can be matched by\nseveral alerts, one per line billed too often), so TP may exceed the labels;\nrecall counts the labels found by standing alerts, recall raised by any alert\never raised (withdrawn ones too). Then the nightly audit on two consecutive\nnights, and false alerts on near misses: standing alerts on legitimate\nlook-alikes, per detector and shape.',
    flags: {
      'fee-lines': { type: 'string', value: 'n', help: 'dataset size in fee lines (default 200000)' },
      seed: { type: 'string', value: 'n', help: 'random seed (default 11)' },
      'data-dir': { type: 'string', value: 'dir', help: 'chDB directory of the scratch store (default: a new temporary directory)' },
      format: { type: 'string', value: 'f', help: 'contract (default) or national: generate and replay the dataset as the national platform\'s transactions' },
    },
    run: async (f: { seed?: string }) => (await import('./evaluate.ts')).evaluateCommand(f),
  }),
  command({
    name: 'audit',
    summary: 'run the audit (事后) detectors over stored history and store their alerts',
    help: 'With KAFKA_BROKERS set the alerts are also published to the alerts topic.\nExit 1 when a detector failed.',
    flags: {
      from: { type: 'string', value: 'D', help: 'first day of the window (YYYY-MM-DD, China time) or an RFC 3339 instant; default: 30 days before --to' },
      to: { type: 'string', value: 'D', help: 'last day of the window, inclusive (YYYY-MM-DD), or an RFC 3339 instant (exclusive); default: yesterday' },
      detector: { type: 'string', multiple: true, value: 'id', help: 'only this audit detector (repeatable); default: every enabled one' },
      kb: KB, rules: RULES, 'data-dir': DATA_DIR,
      labels: { type: 'string', value: 'file', help: 'a generated dataset\'s labels.jsonl: also print precision among the top K alerts per detector' },
      top: { type: 'string', value: 'K', help: 'K for --labels (default 10)' },
      json: { type: 'boolean', help: 'print the run as JSON instead of a table' },
    },
    env: ['KAFKA_BROKERS', ...SECURED_KAFKA_ENV, 'FUNDWATCH_TOPIC_PREFIX', 'FUNDWATCH_PUSHGATEWAY_URL', ...STORE_ENV],
    run: async (f: { from?: string }) => (await import('./audit.ts')).auditCommand(f),
  }),
  command({
    name: 'backtest',
    summary: 'replay stored history through a candidate rule base and the one in force; what would change, per detector',
    help: 'Nothing is written: the alerts stay as they are, no topic output. The rule base in force is\nFUNDWATCH_RULES (or every detector with its defaults). An invalid candidate is refused with its\nline (exit 1). The window is [--from, --to] on event_time, plus the detectors\' look-back\nbefore it replayed for state only.',
    flags: {
      rules: { type: 'string', value: 'file', help: 'the candidate rule base, YAML or JSON (required)' },
      from: { type: 'string', value: 'D', help: 'first day of the window (YYYY-MM-DD, China time) or an RFC 3339 instant (required)' },
      to: { type: 'string', value: 'D', help: 'last day of the window, inclusive (YYYY-MM-DD), or an RFC 3339 instant (exclusive) (required)' },
      labels: { type: 'string', value: 'file', help: 'a generated dataset\'s labels.jsonl: precision and recall against it, both rule bases' },
      kb: KB, 'data-dir': DATA_DIR,
      json: { type: 'boolean', help: 'print the result as JSON instead of a table' },
    },
    env: ['FUNDWATCH_RULES', ...STORE_ENV],
    run: async (f: { rules?: string }) => (await import('./backtest.ts')).backtestCommand(f),
  }),
  command({
    name: 'users',
    args: 'create|list|revoke [user_id]',
    positionals: { min: 1, max: 2 },
    subcommands: ['create', 'list', 'revoke'],
    summary: 'create, list and revoke API tokens (roles monitor, inspector, admin, precheck)',
    help: 'create needs --role and --name; the token is printed once (only its SHA-256 is stored).\nrevoke takes the user_id. With embedded chDB, stop a running `fundwatch start` on the\nsame data directory first.',
    flags: {
      role: { type: 'string', value: 'role', help: 'monitor | inspector | admin | precheck' },
      name: { type: 'string', value: 'name', help: 'who the token is for' },
      admdvs: { type: 'string', value: 'codes', help: 'region scope: comma-separated region code prefixes, e.g. 3707,3708' },
      institution: { type: 'string', value: 'codes', help: 'institution scope: comma-separated fixmedins codes' },
      'data-dir': DATA_DIR, kb: KB,
    },
    env: STORE_ENV,
    run: async (f: { role?: string }, p) => (await import('./users.ts')).usersCommand(f, p),
  }),
  command({
    name: 'evidence',
    args: '<case_id>',
    positionals: { min: 1, max: 1 },
    summary: 'export a case\'s evidence pack (zip: xlsx, csv, report.html, manifest with SHA-256)',
    help: 'The export is recorded in the access log under the operating-system user with its purpose.',
    flags: {
      out: { type: 'string', value: 'file.zip', help: 'where to write the pack (required)' },
      purpose: { type: 'string', value: 'why', help: 'why it is exported, 2–200 characters (required)' },
      unmasked: { type: 'boolean', help: 'personal identifiers in clear (recorded as such); masked by default' },
      'data-dir': DATA_DIR, kb: KB,
    },
    env: STORE_ENV,
    run: async (f: { out?: string }, [caseId]) => (await import('./evidence.ts')).evidenceCommand(caseId!, f),
  }),
  command({
    name: 'rules',
    args: 'export|import|history [file]',
    positionals: { min: 1, max: 2 },
    subcommands: ['export', 'import', 'history'],
    summary: 'the versioned rule base in the store: export a version\'s YAML, import one with a reason, list the changes',
    help: 'export: the text of the version in force (or --hash H), byte for byte, to stdout or --out.\nimport <file> --reason "…": validated as PUT /api/v1/rules validates it, then appended as the\nversion in force; running roles pick it up within FUNDWATCH_RULES_POLL_MS.\nhistory: the changes, newest first (who, when, why, the hash). A revert is an import of an\nearlier export, or POST /api/v1/rules/revert.',
    flags: {
      hash: { type: 'string', value: 'H', help: 'export: this recorded version instead of the one in force' },
      out: { type: 'string', value: 'file', help: 'export: write to this file instead of stdout' },
      reason: { type: 'string', value: 'why', help: 'import: why the rule base changes, 1–500 characters (required)' },
      limit: { type: 'string', value: 'n', help: 'history: changes shown (default 50)' },
      'data-dir': DATA_DIR, kb: KB,
    },
    env: STORE_ENV,
    run: async (f: { hash?: string }, p) => (await import('./rules.ts')).rulesCommand(f, p),
  }),
  command({
    name: 'dlq',
    args: 'list|show|export|resubmit [dlq_id]',
    positionals: { min: 1, max: 2 },
    subcommands: ['list', 'show', 'export', 'resubmit'],
    summary: 'the records the pipeline refused (dead letters): counts by day and reason, one record, export, re-submit',
    help: 'list: counts per China day and reason, and the latest --limit records.\nshow <dlq_id>: one record\'s reason, every validation problem, source and raw bytes.\nexport: every matching record as JSON lines (raw bytes in raw_base64, and raw_text when UTF-8).\nresubmit <dlq_id> --file corrected.json: the corrected record through the same pipeline\n(decode, admission, detectors, store); the dead letter stays on record. Exit 1 when refused again.',
    flags: {
      from: { type: 'string', value: 'D', help: 'received on or after this day (YYYY-MM-DD, China time) or RFC 3339 instant' },
      to: { type: 'string', value: 'D', help: 'received on or before this day (inclusive) or before this RFC 3339 instant' },
      reason: { type: 'string', value: 'reason', help: 'only this reason, e.g. not_json or schema.invalid_type@payload.psn_no' },
      limit: { type: 'string', value: 'n', help: 'list: latest records shown (default 20); export: at most n (default 100000)' },
      out: { type: 'string', value: 'file', help: 'export: write to this file instead of stdout' },
      file: { type: 'string', value: 'corrected.json', help: 'resubmit: the corrected record (one JSON object)' },
      kb: KB, rules: RULES, 'data-dir': DATA_DIR,
    },
    env: STORE_ENV,
    run: async (f: { from?: string }, p) => (await import('./dlq.ts')).dlqCommand(f, p),
  }),
]

const HELP_FLAG: Flag = { type: 'boolean', short: 'h', help: 'this help' }

export function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}

function flagLines(flags: Record<string, Flag>): string[] {
  const entries = Object.entries({ ...flags, help: HELP_FLAG }).map(([name, f]) => [`${f.short ? `-${f.short}, ` : ''}--${name}${f.type === 'string' ? ` <${f.value ?? 'value'}>` : ''}`, f.help + (f.multiple ? ' (repeatable)' : '')] as const)
  const w = Math.max(...entries.map(([l]) => l.length)) + 2
  return entries.map(([l, h]) => `  ${l.padEnd(w)}${h}`)
}

/** The command with all its flags on one line, as the README's command table shows it. */
export function synopsis(c: Command): string {
  const flags = Object.entries(c.flags).map(([name, f]) => `[--${name}${f.type === 'string' ? ` <${f.value ?? 'value'}>` : ''}]${f.multiple ? '…' : ''}`)
  return ['fundwatch', c.name, ...(c.args ? [c.args] : []), ...flags].join(' ')
}

export function usageLine(c: Command): string {
  return `usage: fundwatch ${c.name}${c.args ? ` ${c.args}` : ''} [options]`
}

export function commandHelp(c: Command): string {
  return [
    usageLine(c), '', c.summary[0]!.toUpperCase() + c.summary.slice(1) + '.', ...(c.help ? [c.help] : []), '',
    'options:', ...flagLines(c.flags),
    ...(c.env?.length ? ['', `environment: ${[...new Set(c.env)].join(', ')} (fundwatch --help describes them)`] : []),
  ].join('\n')
}

export function mainHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length)) + 2
  const ew = Math.max(...ENVIRONMENT.map((e) => e.name.length)) + 2
  return [
    `fundwatch ${version()} — real-time medical-insurance fund monitoring`,
    '',
    'usage: fundwatch <command> [options]',
    '       fundwatch <command> --help     the command\'s arguments and options',
    '       fundwatch --version',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}${c.summary}`),
    '',
    'environment:',
    ...ENVIRONMENT.map((e) => `  ${e.name.padEnd(ew)}${e.help}`),
    '',
    'exit status: 0 done, 1 failed (one line says why), 2 usage error',
  ].join('\n')
}

/** A usage error: exit 2 with the message and where to read the usage. */
class Usage extends Error {}

/** Thrown for a usage error a command finds itself (a flag value it cannot use): exit 2. */
export function isUsageError(err: unknown): boolean {
  if (err instanceof Usage) return true
  const code = (err as { code?: unknown } | null)?.code
  // parseArgs' strict errors, and the BAD_REQUEST the commands raise for a bad flag value.
  return typeof code === 'string' && (code.startsWith('ERR_PARSE_ARGS') || code === 'BAD_REQUEST')
}

/** Runs one command line; returns the exit status. Writes to console.log/console.error. */
export async function cli(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv
  if (name === '--version' || name === '-V' || name === 'version') {
    console.log(version())
    return 0
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const c = name === 'help' && args[0] ? COMMANDS.find((x) => x.name === args[0]) : undefined
    if (name === 'help' && args[0] && !c) return usage(undefined, `unknown command "${args[0]}"`)
    if (name === undefined) {
      console.error(mainHelp())
      return 2
    }
    console.log(c ? commandHelp(c) : mainHelp())
    return 0
  }
  const c = COMMANDS.find((x) => x.name === name)
  if (!c) return usage(undefined, `unknown command "${name}"`)
  // --help wins over anything else on the line, and does nothing else.
  const end = args.indexOf('--')
  if ((end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h')) {
    console.log(commandHelp(c))
    return 0
  }
  try {
    const options = Object.fromEntries(Object.entries(c.flags).map(([k, f]) => [k, { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) }]))
    const { values, positionals } = parseArgs({ args: [...args], options, allowPositionals: true, strict: true })
    const { min, max } = c.positionals ?? { min: 0, max: 0 }
    if (positionals.length < min || positionals.length > max) {
      throw new Usage(positionals.length > max ? `unexpected argument "${positionals[max]}"` : `missing ${c.args ?? 'argument'}`)
    }
    if (c.subcommands && !c.subcommands.includes(positionals[0]!)) throw new Usage(`unknown subcommand "${positionals[0]}" (one of ${c.subcommands.join(', ')})`)
    return await c.run(values as Flags, positionals)
  } catch (err) {
    if (isUsageError(err)) {
      const e = err as Error & { code?: string }
      // parseArgs explains how to pass a positional that starts with '-': not what a typo needs.
      return usage(c, e.code?.startsWith('ERR_PARSE_ARGS') ? e.message.split('. ')[0]! : e.message)
    }
    const e = err as Error
    console.error(`fundwatch ${c.name}: ${oneLine(e?.message ?? String(err))}`)
    if (process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace') console.error(e?.stack)
    return 1
  }
}

function usage(c: Command | undefined, message: string): number {
  console.error(`fundwatch${c ? ` ${c.name}` : ''}: ${oneLine(message)} (see fundwatch ${c ? `${c.name} ` : ''}--help)`)
  return 2
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim()
}
