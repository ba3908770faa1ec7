/**
 * The Docker path of the test setup: the official apache/kafka image through
 * testcontainers, used only where a container engine answers. The fundwatch
 * CI and dev machines have no Docker engine, so this path has not run here;
 * docs/kafka.md says so. It mirrors the local broker's settings
 * (local-broker.ts) so tests see the same cluster either way.
 */
import { freePort } from './local-broker.ts'
import { waitForCluster } from '../../src/kafka/admin.ts'

export interface ContainerBroker {
  brokers: string
  stop(): Promise<void>
}

/**
 * Whether a container engine answers, asked the way testcontainers itself
 * asks (DOCKER_HOST, ~/.testcontainers.properties, the usual sockets). A
 * missing engine costs about a second.
 */
export async function dockerAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers')
    await getContainerRuntimeClient()
    return true
  } catch {
    return false
  }
}

export async function startContainerBroker(opts: { version: string; readyTimeoutMs?: number }): Promise<ContainerBroker> {
  const { GenericContainer, Wait } = await import('testcontainers')
  // The broker must advertise the address clients use, which is the host
  // port; binding the same number on both sides lets it be known before start.
  const port = await freePort()
  const container = await new GenericContainer(`apache/kafka:${opts.version}`)
    .withExposedPorts({ container: port, host: port })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `PLAINTEXT://0.0.0.0:${port},CONTROLLER://127.0.0.1:9093`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port}`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@127.0.0.1:9093',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_NUM_PARTITIONS: '1',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '8',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_HEAP_OPTS: '-Xms64m -Xmx512m',
    })
    .withWaitStrategy(Wait.forListeningPorts())
    .withStartupTimeout(opts.readyTimeoutMs ?? 120_000)
    .start()
  const brokers = `127.0.0.1:${port}`
  try {
    await waitForCluster(brokers, { timeoutMs: opts.readyTimeoutMs ?? 120_000 })
  } catch (err) {
    await container.stop().catch(() => undefined)
    throw err
  }
  return {
    brokers,
    async stop() {
      await container.stop()
    },
  }
}
