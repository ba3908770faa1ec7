import { getHeapStatistics } from 'node:v8'
import { z } from 'zod'
import { FundwatchError } from './errors.ts'
import { MAX_LINES_PER_EVENT } from './pipeline/decode.ts'
import { DEFAULT_BATCH_LINGER_MS } from './pipeline/types.ts'
import { CLUSTER_NAME } from './store/cluster.ts'
import { Retention, retentionFromEnv } from './store/retention.ts'
import { Secret } from './util/secret.ts'

/**
 * Process configuration, from the environment (and CLI flags layered on top),
 * parsed once at start-up and frozen. Cross-field rules live in the schema.
 */
export const Config = z
  .object({
    port: z.coerce.number().int().min(0).max(65535).default(8080).describe('HTTP port (PORT)'),
    metricsPort: z.coerce.number().int().min(1).max(65535).optional().describe('Processor only: serve /metrics and /healthz on this port and no API (METRICS_PORT); see docs/operations.md'),
    pushgatewayUrl: z.string().url().optional().describe('`fundwatch audit` pushes its run metrics to this Prometheus Pushgateway (FUNDWATCH_PUSHGATEWAY_URL)'),
    host: z.string().default('127.0.0.1').describe('HTTP bind address (HOST)'),
    dataDir: z.string().default('.data').describe('chDB data directory in embedded mode (FUNDWATCH_DATA_DIR)'),
    clickhouseUrl: z.string().url().optional().describe('ClickHouse server URL; unset = embedded chDB (CLICKHOUSE_URL)'),
    database: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/).default('fundwatch').describe('ClickHouse database (FUNDWATCH_DB)'),
    cluster: z.string().regex(CLUSTER_NAME, 'a cluster name from remote_servers').optional().describe('ClickHouse cluster: migrations run ON CLUSTER with Replicated and Distributed tables (FUNDWATCH_CLUSTER); see docs/clickhouse.md'),
    retention: Retention.default(Retention.parse({})).describe('Days to keep personal fields and raw text, one variable per rule (src/store/retention.ts); see docs/clickhouse.md#retention'),
    kbDir: z.string().optional().describe('Knowledge-base directory; unset = the generated sample (FUNDWATCH_KB)'),
    rulesFile: z.string().optional().describe('Rule-base file, YAML or JSON, recorded as a new rule-base version when its text was never recorded; unset = the version in force in the store (FUNDWATCH_RULES)'),
    rulesPollMs: z.coerce.number().int().min(100).max(3_600_000).default(5000)
      .describe('How often a running role asks the store for the rule-base version in force, and swaps to it between batches (FUNDWATCH_RULES_POLL_MS)'),
    kafkaBrokers: z.string().optional().describe('Comma-separated bootstrap brokers (KAFKA_BROKERS)'),
    topicPrefix: z.string().regex(/^[a-zA-Z0-9._-]*$/).default('').describe('Prefix for topic names (FUNDWATCH_TOPIC_PREFIX)'),
    groupId: z.string().min(1).default('fundwatch-processor').describe('Kafka consumer group (FUNDWATCH_GROUP)'),
    batchSize: z.coerce.number().int().min(1).max(100_000).default(10_000).describe('Records per batch (FUNDWATCH_BATCH_SIZE): file and generator batches hold this many, a Kafka batch gathers fetches up to it; larger batches amortise the per-insert cost (measured: 2k → 10k cuts insert time by 40%)'),
    batchLingerMs: z.coerce.number().int().min(0).max(10_000).default(DEFAULT_BATCH_LINGER_MS)
      .describe(`How long a Kafka or live-generator batch waits for more records after its first, unless FUNDWATCH_BATCH_SIZE records (or FUNDWATCH_FETCH_MAX_BYTES bytes) come first (FUNDWATCH_BATCH_LINGER_MS, default ${DEFAULT_BATCH_LINGER_MS}); adds at most this to event → alert latency, and makes a trickle cost a few batches a second instead of one per fetch`),
    fetchMaxBytes: z.coerce.number().int().min(1024).max(64 << 20).default(4 << 20).describe('Kafka fetch size per partition, and the byte bound of a Kafka batch (FUNDWATCH_FETCH_MAX_BYTES)'),
    maxRecordBytes: z.coerce.number().int().min(1024).max(64 << 20).default(1 << 20).describe('Larger records are dead-lettered as oversized (FUNDWATCH_MAX_RECORD_BYTES)'),
    maxLinesPerEvent: z.coerce.number().int().min(1).max(MAX_LINES_PER_EVENT).default(MAX_LINES_PER_EVENT)
      .describe(`More fee lines in one event are dead-lettered as too_many_lines (FUNDWATCH_MAX_LINES_PER_EVENT); at most the contract's ${MAX_LINES_PER_EVENT}, which bounds a record's work`),
    sessionTimeoutMs: z.coerce.number().int().min(6000).max(300_000).default(30_000).describe('Kafka consumer session timeout: how long a dead member keeps its partitions (FUNDWATCH_SESSION_TIMEOUT_MS)'),
    maxPersons: z.coerce.number().int().min(100).default(500_000).describe('Person-state cache bound (FUNDWATCH_MAX_PERSONS)'),
    stateMaxMb: z.coerce.number().int().min(16).default(() => defaultStateMb())
      .describe('Person-state cache bound in MiB of estimated heap (FUNDWATCH_STATE_MAX_MB); default a quarter of the V8 heap limit, so the cache cannot take the process to an out-of-memory crash'),
    trustProxy: z.string().regex(/^(true|[0-9a-fA-F:./]+(,[0-9a-fA-F:./]+)*)$/, 'true, or comma-separated addresses/CIDRs of the proxies').optional()
      .describe('Behind a load balancer: whose X-Forwarded-For to trust, so rate limits count the client, not the balancer (FUNDWATCH_TRUST_PROXY: the proxies\' addresses/CIDRs, or true for any)'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    migrate: z.enum(['auto', 'false']).default('auto')
      .describe('auto: a role creates or upgrades the tables as it starts (the embedded default); false: it only checks that the schema is current and refuses to start if not, so `fundwatch migrate` (the Kubernetes Job) is the only thing that migrates (FUNDWATCH_MIGRATE)'),
    // Secured Kafka (docs/kafka.md): files are read once at start by src/kafka/security.ts.
    kafkaSaslMechanism: z.enum(['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN']).optional().describe('SASL mechanism, any case (KAFKA_SASL_MECHANISM); unset = no SASL'),
    kafkaSaslUsername: z.string().min(1).optional().describe('SASL user (KAFKA_SASL_USERNAME)'),
    kafkaSaslPassword: z.string().min(1).transform((s) => new Secret(s)).optional().describe('SASL password (KAFKA_SASL_PASSWORD); never printed or logged'),
    kafkaSaslPasswordFile: z.string().min(1).optional().describe('File holding the SASL password, e.g. a mounted Secret (KAFKA_SASL_PASSWORD_FILE); instead of KAFKA_SASL_PASSWORD'),
    kafkaSsl: z.stringbool().default(false).describe('TLS to the brokers (KAFKA_SSL=true); without a CA file the system\'s CAs are trusted'),
    kafkaSslCaFile: z.string().min(1).optional().describe('PEM file of the CA(s) that signed the brokers\' certificates (KAFKA_SSL_CA_FILE)'),
    kafkaSslCertFile: z.string().min(1).optional().describe('PEM client certificate, for brokers that require one (KAFKA_SSL_CERT_FILE)'),
    kafkaSslKeyFile: z.string().min(1).optional().describe('PEM private key of the client certificate, unencrypted (KAFKA_SSL_KEY_FILE)'),
  })
  .refine((c) => !c.cluster || c.clickhouseUrl, { message: 'FUNDWATCH_CLUSTER needs CLICKHOUSE_URL: embedded chDB is one node' })
  .refine((c) => !c.kafkaSaslMechanism || (c.kafkaSaslUsername && !c.kafkaSaslPassword !== !c.kafkaSaslPasswordFile), { message: 'KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and exactly one of KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE' })
  .refine((c) => c.kafkaSaslMechanism || !(c.kafkaSaslUsername || c.kafkaSaslPassword || c.kafkaSaslPasswordFile), { message: 'KAFKA_SASL_USERNAME/PASSWORD are set but KAFKA_SASL_MECHANISM is not: they would be ignored' })
  .refine((c) => c.kafkaSsl || !(c.kafkaSslCaFile || c.kafkaSslCertFile || c.kafkaSslKeyFile), { message: 'a TLS file (KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE) is set but KAFKA_SSL is not true: it would be ignored' })
  .refine((c) => !c.kafkaSslCertFile === !c.kafkaSslKeyFile, { message: 'a client certificate needs its key: set both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE, or neither' })
export type Config = Readonly<z.infer<typeof Config>>

/**
 * Rules on the environment itself rather than on the parsed values: judged on
 * the environment given (a container's, an env file's for `fundwatch config
 * check`), never on this process's.
 */
function environmentIssues(env: NodeJS.ProcessEnv): string[] {
  return env.FUNDWATCH_DATA_DIR && env.CLICKHOUSE_URL ? ['config: FUNDWATCH_DATA_DIR is for embedded chDB and is ignored when CLICKHOUSE_URL is set: unset one'] : []
}

/** The Kafka processor and topic management need brokers; refused before anything opens. */
export function requireKafkaBrokers(config: Config, what: string): string {
  if (!config.kafkaBrokers) throw new FundwatchError('CONFIG_INVALID', `KAFKA_BROKERS is not set: ${what} needs the Kafka bootstrap brokers, e.g. KAFKA_BROKERS=localhost:9092 (to process a file, use fundwatch replay)`)
  return config.kafkaBrokers
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof Config, unknown>> = {}): Config {
  const raw = {
    metricsPort: env.METRICS_PORT || undefined, pushgatewayUrl: env.FUNDWATCH_PUSHGATEWAY_URL || undefined,
    port: env.PORT, host: env.HOST, dataDir: env.FUNDWATCH_DATA_DIR, clickhouseUrl: env.CLICKHOUSE_URL || undefined, database: env.FUNDWATCH_DB, cluster: env.FUNDWATCH_CLUSTER || undefined, retention: retentionFromEnv(env),
    kbDir: env.FUNDWATCH_KB, rulesFile: env.FUNDWATCH_RULES, rulesPollMs: env.FUNDWATCH_RULES_POLL_MS || undefined, kafkaBrokers: env.KAFKA_BROKERS, topicPrefix: env.FUNDWATCH_TOPIC_PREFIX,
    groupId: env.FUNDWATCH_GROUP, batchSize: env.FUNDWATCH_BATCH_SIZE, batchLingerMs: env.FUNDWATCH_BATCH_LINGER_MS, fetchMaxBytes: env.FUNDWATCH_FETCH_MAX_BYTES, sessionTimeoutMs: env.FUNDWATCH_SESSION_TIMEOUT_MS, maxRecordBytes: env.FUNDWATCH_MAX_RECORD_BYTES, maxLinesPerEvent: env.FUNDWATCH_MAX_LINES_PER_EVENT, maxPersons: env.FUNDWATCH_MAX_PERSONS, stateMaxMb: env.FUNDWATCH_STATE_MAX_MB, trustProxy: env.FUNDWATCH_TRUST_PROXY || undefined, logLevel: env.LOG_LEVEL,
    migrate: env.FUNDWATCH_MIGRATE || undefined,
    kafkaSaslMechanism: env.KAFKA_SASL_MECHANISM?.toUpperCase() || undefined, kafkaSaslUsername: env.KAFKA_SASL_USERNAME || undefined, kafkaSaslPassword: env.KAFKA_SASL_PASSWORD || undefined, kafkaSaslPasswordFile: env.KAFKA_SASL_PASSWORD_FILE || undefined,
    kafkaSsl: env.KAFKA_SSL || undefined, kafkaSslCaFile: env.KAFKA_SSL_CA_FILE || undefined, kafkaSslCertFile: env.KAFKA_SSL_CERT_FILE || undefined, kafkaSslKeyFile: env.KAFKA_SSL_KEY_FILE || undefined,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  }
  const parsed = Config.safeParse(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)))
  const issues = [...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`)), ...environmentIssues(env)]
  if (!parsed.success || issues.length) throw new FundwatchError('CONFIG_INVALID', issues.join('; '))
  return Object.freeze(parsed.data)
}

/** A quarter of the V8 heap limit (--max-old-space-size, or Node's default for the machine), in MiB. */
export function defaultStateMb(): number {
  return Math.max(16, Math.floor(getHeapStatistics().heap_size_limit / 4 / 2 ** 20))
}
