/**
 * Runs once per `vitest run`, before any test file: finds or starts the Kafka
 * broker every Kafka test of the run shares, hands its address to the test
 * processes (`inject('kafkaBrokers')`, read through test/helpers/kafka.ts) and
 * stops it at the end.
 *
 * Where the broker comes from, first match wins (docs/kafka.md):
 *   1. KAFKA_BROKERS, when set: a broker someone already runs;
 *   2. a container (apache/kafka via testcontainers), when a Docker engine answers;
 *   3. a local broker: Kafka's jars from Maven Central run by this machine's Java.
 * No broker is a failure, in CI and outside it: the Kafka suites are never
 * skipped (without Java or Docker, run the unit project alone).
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { waitForCluster } from '../src/kafka/admin.ts'
import { kafkaVersion, localBrokerPrerequisites, reapOrphanBrokers, startLocalBroker } from '../scripts/kafka/local-broker.ts'
import { dockerAvailable, startContainerBroker } from '../scripts/kafka/container-broker.ts'

export type KafkaSource = 'env' | 'docker' | 'local' | 'not-needed'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Bootstrap address of the run's shared broker; '' when there is none (see kafkaSource). */
    kafkaBrokers: string
    kafkaSource: KafkaSource
    /** The Kafka release of the shared broker; 'external' when it came from KAFKA_BROKERS. */
    kafkaVersion: string
    /** Why there is no broker, for the error a Kafka test then throws. */
    kafkaMissingReason: string
  }
}

interface Resolved {
  brokers: string
  source: KafkaSource
  version: string
  stop: () => Promise<void>
}

const isCI = (): boolean => ['true', '1'].includes((process.env.CI ?? '').toLowerCase())
const log = (msg: string): void => console.log(`[kafka] ${msg}`)

/**
 * Only runs whose test files mention Kafka get a broker, so a developer
 * running one unit test file does not pay for a JVM. Errs on the side of
 * starting one: a false "yes" costs seconds, a false "no" fails the run.
 */
async function runNeedsKafka(project: TestProject): Promise<boolean> {
  try {
    // filenamePattern holds the CLI's file filters; it is internal to vitest,
    // so when it is missing every test file counts, which is the safe side.
    const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern ?? []
    const { testFiles } = await project.globTestFiles(filters)
    for (const file of testFiles) {
      if (/kafka/i.test(await fs.readFile(file, 'utf8'))) return true
    }
    return false
  } catch {
    return true
  }
}

async function resolveBroker(version: string): Promise<Resolved> {
  const fromEnv = process.env.KAFKA_BROKERS?.trim()
  if (fromEnv) {
    await waitForCluster(fromEnv, { timeoutMs: 30_000 }).catch((err: unknown) => {
      throw new Error(`KAFKA_BROKERS=${fromEnv} is set but no Kafka answers there: ${(err as Error).message}`, { cause: err })
    })
    log(`using KAFKA_BROKERS=${fromEnv}`)
    return { brokers: fromEnv, source: 'env', version: 'external', stop: async () => undefined }
  }

  const forced = process.env.FUNDWATCH_KAFKA_SOURCE?.trim()
  if (forced && forced !== 'docker' && forced !== 'local') throw new Error(`FUNDWATCH_KAFKA_SOURCE must be docker or local, got ${forced}`)

  if (forced !== 'local') {
    if (await dockerAvailable()) {
      const started = Date.now()
      const container = await startContainerBroker({ version })
      log(`apache/kafka:${version} container on ${container.brokers} (ready in ${Date.now() - started} ms)`)
      return { brokers: container.brokers, source: 'docker', version, stop: () => container.stop() }
    }
    if (forced === 'docker') throw new Error('FUNDWATCH_KAFKA_SOURCE=docker but no Docker engine answers')
    log('no Docker engine answers: using a local broker from Maven Central instead of a container')
  }

  const missing = localBrokerPrerequisites(version)
  if (missing) throw new Error(`cannot start a local Kafka broker: ${missing}`)
  // Also catches the private brokers of test files (fundwatch-kafka-private-*).
  await reapOrphanBrokers(os.tmpdir(), 'fundwatch-kafka-', log)
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fundwatch-kafka-'))
  const started = Date.now()
  let crashed = false
  const broker = await startLocalBroker({
    dataDir,
    version,
    log: (msg) => {
      if (msg.includes('exited on its own')) crashed = true
      log(msg)
    },
  }).catch(async (err: unknown) => {
    // The error already carries the log tails; the dir would only pile up in /tmp.
    await fs.rm(dataDir, { recursive: true, force: true })
    throw err
  })
  log(`local Kafka ${version} on ${broker.brokers}, ready in ${Date.now() - started} ms (log: ${broker.logFile})`)
  return {
    brokers: broker.brokers,
    source: 'local',
    version,
    stop: async () => {
      await broker.stop()
      // A broker that died during the run keeps its logs for the post-mortem.
      if (crashed) log(`the broker exited during the run; its data and logs stay in ${dataDir}`)
      else await fs.rm(dataDir, { recursive: true, force: true })
    },
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const version = kafkaVersion()
  const provide = (brokers: string, source: KafkaSource, reason = '', brokerVersion = version): void => {
    project.provide('kafkaBrokers', brokers)
    project.provide('kafkaSource', source)
    project.provide('kafkaVersion', brokerVersion)
    project.provide('kafkaMissingReason', reason)
  }

  // Skipping would let a run without Kafka pass as green: it is refused. A
  // developer without Java or Docker runs `npm run test:unit` instead.
  if (process.env.FUNDWATCH_SKIP_KAFKA) throw new Error('FUNDWATCH_SKIP_KAFKA is no longer honoured: the Kafka suites are never skipped; run `npm run test:unit` for the suites without Kafka')
  if (!(await runNeedsKafka(project))) {
    provide('', 'not-needed', 'no test file of this run mentions Kafka, so the global setup started no broker')
    return async () => undefined
  }

  let resolved: Resolved
  try {
    resolved = await resolveBroker(version)
  } catch (err) {
    const hint = isCI()
      ? ''
      : '\nPoint KAFKA_BROKERS at a broker, or run `npm run test:unit` for the suites that need no Kafka.'
    throw new Error(`No Kafka broker for the Kafka tests: ${(err as Error).message}${hint}`, { cause: err })
  }
  provide(resolved.brokers, resolved.source, '', resolved.version)
  return async () => {
    await resolved.stop()
  }
}
