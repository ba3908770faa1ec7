/**
 * A local Kafka broker for developers, from the shell:
 *
 *   npx tsx scripts/kafka/broker.ts start     # background; prints KAFKA_BROKERS=…
 *   npx tsx scripts/kafka/broker.ts stop
 *
 * Run with no command for the full usage. The broker is the same one the test
 * setup starts (scripts/kafka/local-broker.ts); its data stays in .data/kafka
 * between starts unless `reset` is used.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import {
  brokerPidsOn,
  DEFAULT_CACHE_DIR,
  REPO_ROOT,
  ensureKafkaLibs,
  isOurBroker,
  kafkaVersion,
  localBrokerPrerequisites,
  readBrokerState,
  startLocalBroker,
  stopPid,
} from './local-broker.ts'
import { readSaslSslMaterial, saslSslEnv, type SaslSslOptions } from './sasl-ssl.ts'

const USAGE = `usage: npx tsx scripts/kafka/broker.ts <command> [options]

commands:
  fetch    download the broker's jars from Maven Central into .cache/kafka/<version>/libs
  start    start a broker in the background and print its address (idempotent)
  stop     stop the background broker (SIGTERM, SIGKILL after 30 s)
  status   say whether it runs, and where
  run      run a broker in the foreground until Ctrl-C
  reset    stop it and delete its data

options:
  --version <x.y.z>   Kafka release (default: KAFKA_VERSION, else ${kafkaVersion({})})
  --data-dir <dir>    broker data (default: .data/kafka)
  --port <n>          client port (default: the last one used, else a free one)
  --auto-create       let producers create topics (off: like production)
  --sasl-ssl          a SASL_SSL listener (SCRAM-SHA-512/256, PLAIN) with a throwaway CA
                      made by keytool; prints the KAFKA_SASL_* / KAFKA_SSL_* settings.
                      Fixed when the data dir is first formatted (reset to change it)
  --require-client-cert   with --sasl-ssl: clients must also present a certificate`

function fail(msg: string): never {
  console.error(msg)
  process.exit(1)
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      version: { type: 'string' },
      'data-dir': { type: 'string' },
      port: { type: 'string' },
      'auto-create': { type: 'boolean', default: false },
      'sasl-ssl': { type: 'boolean', default: false },
      'require-client-cert': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const command = positionals[0]
  if (values.help || !command) {
    console.log(USAGE)
    return
  }
  const version = values.version ?? kafkaVersion()
  const dataDir = path.resolve(values['data-dir'] ?? path.join(REPO_ROOT, '.data', 'kafka'))
  const port = values.port === undefined ? undefined : Number(values.port)
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) fail(`--port: not a port: ${values.port}`)
  const log = (msg: string): void => console.error(`[kafka] ${msg}`)
  if (values['require-client-cert'] && !values['sasl-ssl']) fail('--require-client-cert goes with --sasl-ssl')
  const saslSsl: SaslSslOptions | undefined = values['sasl-ssl'] ? { clientAuth: values['require-client-cert'] ? 'required' : 'none' } : undefined
  // What a client sets to reach a secured broker: shell lines to paste or eval.
  const securedEnv = (): string => {
    const material = readSaslSslMaterial(dataDir)
    return material ? `\n${Object.entries(saslSslEnv(material)).map(([k, v]) => `${k}=${v}`).join('\n')}` : ''
  }

  // broker.json names the pid; /proc is asked too, so a broker whose
  // broker.json was lost or overwritten is still found and stopped.
  const running = (): number | undefined => {
    const state = readBrokerState(dataDir)
    if (state?.pid !== undefined && isOurBroker(state.pid, dataDir)) return state.pid
    return brokerPidsOn(dataDir)[0]
  }

  switch (command) {
    case 'fetch': {
      const res = await ensureKafkaLibs(version, { cacheDir: DEFAULT_CACHE_DIR, log })
      console.log(res.fetched ? `fetched Kafka ${version} in ${res.ms} ms: ${res.libsDir}` : `Kafka ${version} already in ${res.libsDir}`)
      return
    }
    case 'start': {
      const pid = running()
      if (pid !== undefined) {
        console.log(`already running (pid ${pid})\nKAFKA_BROKERS=${readBrokerState(dataDir)?.brokers ?? '?'}${securedEnv()}`)
        return
      }
      const missing = localBrokerPrerequisites(version)
      if (missing) fail(`cannot start a local Kafka broker: ${missing}`)
      const broker = await startLocalBroker({ dataDir, version, port, detached: true, autoCreateTopics: values['auto-create'], saslSsl, log })
      console.log(`KAFKA_BROKERS=${broker.brokers}${securedEnv()}\n# pid ${broker.pid}, logs in ${broker.logFile}`)
      return
    }
    case 'stop': {
      const pid = running()
      if (pid === undefined) {
        console.log('not running')
        return
      }
      for (const other of new Set([pid, ...brokerPidsOn(dataDir)])) await stopPid(other)
      console.log(`stopped (pid ${pid})`)
      return
    }
    case 'status': {
      const pid = running()
      const state = readBrokerState(dataDir)
      const where = state ? `Kafka ${state.version}, KAFKA_BROKERS=${state.brokers}${state.saslSsl ? ' (SASL_SSL)' : ''}` : 'address unknown (broker.json missing)'
      console.log(pid === undefined ? `not running (data in ${dataDir})` : `running: pid ${pid}, ${where}`)
      process.exitCode = pid === undefined ? 3 : 0
      return
    }
    case 'run': {
      if (running() !== undefined) fail('a background broker already runs on this data dir: stop it first')
      const missing = localBrokerPrerequisites(version)
      if (missing) fail(`cannot start a local Kafka broker: ${missing}`)
      const broker = await startLocalBroker({ dataDir, version, port, autoCreateTopics: values['auto-create'], saslSsl, log })
      console.log(`KAFKA_BROKERS=${broker.brokers}${securedEnv()}\n# Ctrl-C stops it; logs in ${broker.logFile}`)
      const stop = (): void => {
        void broker.stop().then(() => process.exit(0))
      }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      return
    }
    case 'reset': {
      for (const pid of new Set([running(), ...brokerPidsOn(dataDir)])) if (pid !== undefined) await stopPid(pid)
      const entries = await fsp.readdir(dataDir).catch(() => [] as string[])
      // --data-dir could point anywhere: delete only what looks like a broker's data.
      if (entries.length > 0 && !entries.includes('server.properties')) fail(`${dataDir} holds no server.properties: not a broker data dir, left alone`)
      await fsp.rm(dataDir, { recursive: true, force: true })
      console.log(`removed ${dataDir}`)
      return
    }
    default:
      fail(`unknown command ${command}\n\n${USAGE}`)
  }
}

await main()
