import { z } from 'zod'
// kafkajs is CommonJS and Node's ESM loader detects only some of its named
// exports (not ConfigResourceTypes), so enums come through the default import.
import kafkajs, { type Admin } from 'kafkajs'
import { FundwatchError } from '../errors.ts'

/**
 * The topics of the wire contract (CONTRACT.md § Topics), by role. The `.v1`
 * suffix is part of the contract: a breaking change of a value schema gets a
 * new topic, never a new meaning on the old one.
 */
export const TOPICS = {
  /** Claim events, keyed by `psn_no` so one person's timeline stays in one partition. */
  claims: 'fundwatch.claims.v1',
  /** 进销存 inventory movements, keyed by `fixmedins_code`. */
  inventory: 'fundwatch.inventory.v1',
  /**
   * The national platform's transaction log (docs/national.md): one
   * `{"request", "response"}` a record, keyed by `psn_no` where the
   * transaction has one, else `fixmedins_code`.
   */
  national: 'fundwatch.national.v1',
  /** Alerts fundwatch writes, keyed by `fixmedins_code`; the same document as in ClickHouse. */
  alerts: 'fundwatch.alerts.v1',
  /** Rejected input with a machine-readable reason, keyed by the original key. */
  dlq: 'fundwatch.dlq.v1',
} as const
export type TopicRole = keyof typeof TOPICS
export const TOPIC_ROLES = Object.keys(TOPICS) as TopicRole[]

/** Kafka's own limit on topic names: these characters, at most 249 of them. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/

/**
 * The prefix is put in front verbatim, so it carries its own separator:
 * `staging.` gives `staging.fundwatch.claims.v1`. That lets one cluster hold
 * several environments, and each test file its own topics.
 */
export const TopicPrefix = z
  .string()
  .regex(/^[a-zA-Z0-9._-]*$/, 'topic prefix: letters, digits, . _ - only')
  .max(200)
  .describe('Put in front of every topic name, separator included (FUNDWATCH_TOPIC_PREFIX)')

export function topicNames(prefix = ''): Readonly<Record<TopicRole, string>> {
  const parsed = TopicPrefix.safeParse(prefix)
  if (!parsed.success) throw new FundwatchError('CONFIG_INVALID', parsed.error.issues.map((i) => i.message).join('; '))
  const names = Object.fromEntries(TOPIC_ROLES.map((role) => [role, `${prefix}${TOPICS[role]}`])) as Record<TopicRole, string>
  for (const name of Object.values(names)) {
    if (!TOPIC_NAME.test(name)) throw new FundwatchError('CONFIG_INVALID', `topic name ${name} is not a valid Kafka topic name`)
  }
  return Object.freeze(names)
}

const TopicSettings = z
  .object({
    partitions: z.number().int().min(1).max(10_000).optional().describe('Partitions; processors scale up to this many consumers'),
    retentionMs: z.number().int().min(-1).optional().describe('retention.ms; -1 keeps records forever'),
  })
  .strict()

export const CreateTopicsOptions = z
  .object({
    prefix: TopicPrefix.default(''),
    partitions: z.number().int().min(1).max(10_000).default(6).describe('Partitions of every topic unless overridden per role'),
    replicationFactor: z.number().int().min(1).max(32).default(1).describe('Replicas per partition; 3 in production'),
    retentionMs: z.number().int().min(-1).optional().describe('retention.ms of every topic unless overridden; unset = broker default'),
    minInsyncReplicas: z.number().int().min(1).optional().describe('min.insync.replicas; must not exceed the replication factor'),
    perTopic: z.partialRecord(z.enum(TOPIC_ROLES as [TopicRole, ...TopicRole[]]), TopicSettings).default({}).describe('Overrides by role, e.g. a longer DLQ retention'),
    timeoutMs: z.number().int().min(100).default(30_000),
  })
  .strict()
  .refine((o) => o.minInsyncReplicas === undefined || o.minInsyncReplicas <= o.replicationFactor, {
    message: 'minInsyncReplicas above replicationFactor would refuse every acks=all write',
  })
export type CreateTopicsOptions = z.input<typeof CreateTopicsOptions>

/** A topic that already existed with settings other than the ones asked for; reported, never changed. */
export interface TopicMismatch {
  topic: string
  setting: 'partitions' | 'retention.ms' | 'replication.factor'
  wanted: string
  actual: string
}

export interface CreateTopicsResult {
  created: string[]
  existing: string[]
  mismatches: TopicMismatch[]
}

/**
 * Creates the contract's topics that are missing and leaves existing ones as
 * they are, so it can run at every start-up and from `fundwatch topics create`.
 * An existing topic with other settings is reported in `mismatches` rather
 * than altered: shrinking partitions is impossible, growing them moves
 * persons to other partitions (breaking per-person ordering), and retention is
 * an operator's decision.
 */
export async function createTopics(admin: Admin, options: CreateTopicsOptions = {}): Promise<CreateTopicsResult> {
  const parsed = CreateTopicsOptions.safeParse(options)
  if (!parsed.success) {
    throw new FundwatchError('CONFIG_INVALID', parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; '))
  }
  const opts = parsed.data
  const names = topicNames(opts.prefix)
  const wanted = TOPIC_ROLES.map((role) => {
    const override = opts.perTopic[role] ?? {}
    const retentionMs = override.retentionMs ?? opts.retentionMs
    const configEntries: { name: string; value: string }[] = []
    if (retentionMs !== undefined) configEntries.push({ name: 'retention.ms', value: String(retentionMs) })
    if (opts.minInsyncReplicas !== undefined) configEntries.push({ name: 'min.insync.replicas', value: String(opts.minInsyncReplicas) })
    return { topic: names[role], numPartitions: override.partitions ?? opts.partitions, retentionMs, configEntries }
  })

  const present = new Set(await admin.listTopics())
  const missing = wanted.filter((t) => !present.has(t.topic))
  const created: string[] = []
  if (missing.length > 0) {
    // `false` means another process created them between listTopics and here:
    // the outcome we wanted, so it is not an error.
    const didCreate = await admin.createTopics({
      topics: missing.map((t) => ({ topic: t.topic, numPartitions: t.numPartitions, replicationFactor: opts.replicationFactor, configEntries: t.configEntries })),
      waitForLeaders: true,
      timeout: opts.timeoutMs,
    })
    if (didCreate) created.push(...missing.map((t) => t.topic))
    await waitUntilWritable(admin, missing.map((t) => t.topic), opts.timeoutMs)
  }
  const existing = wanted.map((t) => t.topic).filter((t) => !created.includes(t))
  const mismatches = existing.length > 0 ? await findMismatches(admin, wanted.filter((t) => existing.includes(t.topic)), opts.replicationFactor) : []
  return { created, existing, mismatches }
}

/**
 * kafkajs's waitForLeaders only reads metadata, which names a leader before
 * that broker has taken leadership. A produce in that window gets
 * NOT_LEADER_OR_FOLLOWER for one partition, and kafkajs's retry resends the
 * whole request, so a non-idempotent producer appends the other partitions'
 * records twice. ListOffsets is answered only by the acting leader, so once
 * it succeeds for every partition, writes do too.
 */
async function waitUntilWritable(admin: Admin, topics: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const topic of topics) {
    for (;;) {
      try {
        await admin.fetchTopicOffsets(topic)
        break
      } catch (err) {
        if (Date.now() > deadline) {
          throw new FundwatchError('SOURCE_FAILED', `topic ${topic} created but not writable after ${timeoutMs} ms`, { cause: err })
        }
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }
}

async function findMismatches(
  admin: Admin,
  topics: { topic: string; numPartitions: number; retentionMs: number | undefined }[],
  replicationFactor: number,
): Promise<TopicMismatch[]> {
  const mismatches: TopicMismatch[] = []
  const meta = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) })
  for (const t of topics) {
    const found = meta.topics.find((m) => m.name === t.topic)
    if (!found) continue
    if (found.partitions.length !== t.numPartitions) {
      mismatches.push({ topic: t.topic, setting: 'partitions', wanted: String(t.numPartitions), actual: String(found.partitions.length) })
    }
    const replicas = found.partitions[0]?.replicas.length
    if (replicas !== undefined && replicas !== replicationFactor) {
      mismatches.push({ topic: t.topic, setting: 'replication.factor', wanted: String(replicationFactor), actual: String(replicas) })
    }
  }
  const withRetention = topics.filter((t) => t.retentionMs !== undefined)
  if (withRetention.length > 0) {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: withRetention.map((t) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name: t.topic, configNames: ['retention.ms'] })),
    })
    for (const t of withRetention) {
      const resource = described.resources.find((r) => r.resourceName === t.topic)
      const actual = resource?.configEntries.find((e) => e.configName === 'retention.ms')?.configValue
      if (actual !== undefined && actual !== String(t.retentionMs)) {
        mismatches.push({ topic: t.topic, setting: 'retention.ms', wanted: String(t.retentionMs), actual })
      }
    }
  }
  return mismatches
}
