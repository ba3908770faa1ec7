/**
 * A real Apache Kafka broker for tests and development on machines without
 * Docker: the broker's jars come from Maven Central (scripts/kafka/pom.xml),
 * it runs as one JVM in KRaft combined mode (broker + controller, node 1) on
 * loopback ports, and it can be stopped, killed and started again on the same
 * log dirs and ports, which the crash and redelivery tests need.
 *
 *   const broker = await startLocalBroker({ dataDir })
 *   broker.brokers   // '127.0.0.1:41234'
 *   await broker.restart()
 *   await broker.stop()
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { configFromEnv } from '../../src/config.ts'
import { waitForCluster } from '../../src/kafka/admin.ts'
import { kafkaSecurity } from '../../src/kafka/security.ts'
import { ensureSaslSslMaterial, saslSslEnv, saslSslProperties, scramFormatArgs, type SaslSslMaterial, type SaslSslOptions } from './sasl-ssl.ts'

/**
 * The newest release the harness test passed against with kafkajs 2.2.4
 * (docs/kafka.md lists what was tried). Override with KAFKA_VERSION.
 */
export const DEFAULT_KAFKA_VERSION = '4.3.1'

const HERE = path.dirname(fileURLToPath(import.meta.url))
export const REPO_ROOT = path.resolve(HERE, '..', '..')
export const DEFAULT_CACHE_DIR = path.join(REPO_ROOT, '.cache', 'kafka')
const POM = path.join(HERE, 'pom.xml')
const LOG4J2_CONFIG = path.join(HERE, 'log4j2.properties')
const LOG4J1_CONFIG = path.join(HERE, 'log4j.properties')
const COMPLETE_MARKER = '.complete'

type Log = (msg: string) => void
const quiet: Log = () => undefined

export function kafkaVersion(env: NodeJS.ProcessEnv = process.env): string {
  const version = env.KAFKA_VERSION?.trim() || DEFAULT_KAFKA_VERSION
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`KAFKA_VERSION must look like 4.3.1, got ${JSON.stringify(version)}`)
  return version
}

function majorOf(version: string): number {
  return Number(version.split('.')[0])
}

export function javaBin(env: NodeJS.ProcessEnv = process.env): string {
  return env.JAVA_HOME ? path.join(env.JAVA_HOME, 'bin', 'java') : 'java'
}

/** The running Java's feature version (17 for "17.0.15", 8 for "1.8.0_392"), or undefined when there is no Java. */
export function javaFeatureVersion(java = javaBin()): number | undefined {
  const out = spawnSync(java, ['-version'], { encoding: 'utf8' })
  if (out.error || out.status !== 0) return undefined
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${out.stderr}${out.stdout}`)
  if (!m) return undefined
  return m[1] === '1' ? Number(m[2]) : Number(m[1])
}

/** What is missing on this machine to run a local broker of `version`, or undefined when nothing is. */
export function localBrokerPrerequisites(version: string, cacheDir = DEFAULT_CACHE_DIR): string | undefined {
  const java = javaFeatureVersion()
  if (java === undefined) return 'no Java found (install a JDK 17+, e.g. apt-get install openjdk-17-jre-headless, or set JAVA_HOME)'
  // Kafka 4 brokers need Java 17; 3.x brokers run on 11.
  const needed = majorOf(version) >= 4 ? 17 : 11
  if (java < needed) return `Kafka ${version} needs Java ${needed}+, found Java ${java}`
  if (!isFetched(version, cacheDir) && spawnSync('mvn', ['-v'], { encoding: 'utf8' }).error) {
    return `Kafka ${version} is not in ${cacheDir} and Maven (mvn) is missing to fetch it (apt-get install maven)`
  }
  return undefined
}

function libsDirOf(version: string, cacheDir: string): string {
  return path.join(cacheDir, version, 'libs')
}

function isFetched(version: string, cacheDir: string): boolean {
  return fs.existsSync(path.join(libsDirOf(version, cacheDir), COMPLETE_MARKER))
}

export interface FetchResult {
  libsDir: string
  /** False when the jars were already in the cache. */
  fetched: boolean
  ms: number
}

/**
 * Copies kafka_2.13:`version` and its runtime dependencies into
 * `<cacheDir>/<version>/libs`, once. Maven keeps its own copy in ~/.m2, so a
 * second checkout on the same machine fetches nothing from the network.
 */
export async function ensureKafkaLibs(version: string, opts: { cacheDir?: string; log?: Log } = {}): Promise<FetchResult> {
  const cacheDir = opts.cacheDir ?? DEFAULT_CACHE_DIR
  const log = opts.log ?? quiet
  const libsDir = libsDirOf(version, cacheDir)
  const started = Date.now()
  if (isFetched(version, cacheDir)) return { libsDir, fetched: false, ms: 0 }

  // Two test runs in one checkout may fetch at once: each fills its own
  // folder and the first rename wins, so nobody starts from half a folder.
  const tmp = `${libsDir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`
  await fsp.mkdir(tmp, { recursive: true })
  log(`fetching Kafka ${version} from Maven Central into ${libsDir}`)
  const args = [
    '-B', '-q', '--no-transfer-progress', '-Dstyle.color=never',
    '-f', POM,
    `-Dkafka.version=${version}`,
    '-P', majorOf(version) >= 4 ? 'kafka4' : 'kafka3',
    'dependency:copy-dependencies',
    '-DincludeScope=runtime',
    `-DoutputDirectory=${tmp}`,
  ]
  const result = await run('mvn', args)
  if (result.code !== 0) {
    await fsp.rm(tmp, { recursive: true, force: true })
    throw new Error(`mvn could not fetch Kafka ${version} (exit ${String(result.code)}):\n${result.output.slice(-4000)}`)
  }
  const jars = (await fsp.readdir(tmp)).filter((f) => f.endsWith('.jar'))
  if (!jars.includes(`kafka_2.13-${version}.jar`)) {
    await fsp.rm(tmp, { recursive: true, force: true })
    throw new Error(`mvn finished but kafka_2.13-${version}.jar is not among the ${jars.length} jars it copied`)
  }
  await fsp.writeFile(path.join(tmp, COMPLETE_MARKER), `${jars.length} jars\n`)
  try {
    await fsp.rename(tmp, libsDir)
  } catch (err) {
    if (!isFetched(version, cacheDir)) throw err
    await fsp.rm(tmp, { recursive: true, force: true })
  }
  const ms = Date.now() - started
  log(`fetched ${jars.length} jars in ${ms} ms`)
  return { libsDir, fetched: true, ms }
}

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

/** A port the OS just handed out on 127.0.0.1; the broker binds it a moment later (a bind failure is retried). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))))
    })
  })
}

/**
 * Kafka's cluster id: 16 random bytes, base64url without padding. One in 64
 * starts with '-', which StorageTool's argument parser takes for an option
 * ("argument --cluster-id/-t: expected one argument"); Kafka's own
 * Uuid.randomUuid() redraws those, and so does this.
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

export interface LocalBrokerOptions {
  /** Holds server.properties, the KRaft log dirs, logs/ and broker.json. Reused as is by a later start. */
  dataDir: string
  /** Kafka release from Maven Central; default KAFKA_VERSION or DEFAULT_KAFKA_VERSION. */
  version?: string
  /** Client listener port; default: the one in `<dataDir>/broker.json`, else a free one. */
  port?: number
  controllerPort?: number
  /** JVM -Xmx: the machine is shared with chDB and other test processes. */
  heapMax?: string
  /**
   * Off by default, like the production brokers fundwatch is meant for: code
   * that forgets to create its topics must fail here, not in production.
   */
  autoCreateTopics?: boolean
  /**
   * A SASL_SSL client listener (SCRAM-SHA-512/256 and PLAIN over TLS, a
   * throwaway CA) instead of PLAINTEXT: see scripts/kafka/sasl-ssl.ts. Fixed
   * when the data dir is formatted (the SCRAM users go into its metadata).
   */
  saslSsl?: SaslSslOptions
  /** Extra server.properties lines, applied last. */
  config?: Record<string, string | number | boolean>
  readyTimeoutMs?: number
  /** How long a SIGTERM gets before SIGKILL. */
  stopTimeoutMs?: number
  cacheDir?: string
  /** For the CLI's `start`: the JVM outlives this Node process. */
  detached?: boolean
  log?: Log
}

export interface LocalBroker {
  /** Bootstrap address, `127.0.0.1:<port>`; the same after restart(). */
  readonly brokers: string
  readonly port: number
  readonly controllerPort: number
  readonly version: string
  readonly dataDir: string
  /** The broker's own log (log4j), for a failing test to read. */
  readonly logFile: string
  /** With `saslSsl`: the CA, client certificate and users a client needs (saslSslEnv() turns them into fundwatch's settings). */
  readonly saslSsl: SaslSslMaterial | undefined
  /** The JVM's pid while it runs; a new one after restart(). */
  readonly pid: number | undefined
  readonly running: boolean
  /** SIGTERM (controlled shutdown, logs flushed), SIGKILL after stopTimeoutMs. Idempotent. */
  stop(): Promise<void>
  /** SIGKILL at once: a crash, for recovery tests. */
  kill(): Promise<void>
  /** Starts again on the same data and ports and waits until ready. */
  start(): Promise<void>
  restart(): Promise<void>
}

interface BrokerState {
  version: string
  port: number
  controllerPort: number
  pid?: number
  brokers: string
  clusterId: string
  /** The Node process whose exit should end this broker; absent for the CLI's detached brokers. */
  ownerPid?: number
  /** The client listener is SASL_SSL (scripts/kafka/sasl-ssl.ts); absent for PLAINTEXT. */
  saslSsl?: boolean
}

export function readBrokerState(dataDir: string): BrokerState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, 'broker.json'), 'utf8')) as BrokerState
  } catch {
    return undefined
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  // An orphan whose new parent never reaps it (PID 1 in some containers) stays
  // a zombie forever: dead for our purposes, or a wait loop would never end.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true
  }
}

/** True only for a JVM running kafka.Kafka on this data dir: a recycled pid must never be killed. */
export function isOurBroker(pid: number, dataDir: string): boolean {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    return cmdline.includes('kafka.Kafka') && cmdline.includes(path.join(path.resolve(dataDir), 'server.properties'))
  } catch {
    return false
  }
}

/** Every live JVM running kafka.Kafka on this data dir, found through /proc whatever broker.json says. */
export function brokerPidsOn(dataDir: string): number[] {
  let entries: string[] = []
  try {
    entries = fs.readdirSync('/proc')
  } catch {
    return []
  }
  return entries
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => pid !== process.pid && isOurBroker(pid, dataDir) && isAlive(pid))
}

/** Stops a broker by pid (one this process did not start, e.g. from the CLI): SIGTERM, wait, SIGKILL. */
export async function stopPid(pid: number, timeoutMs = 30_000): Promise<void> {
  if (!isAlive(pid)) return
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + timeoutMs
  while (isAlive(pid) && Date.now() < deadline) await sleep(100)
  if (isAlive(pid)) {
    process.kill(pid, 'SIGKILL')
    while (isAlive(pid)) await sleep(50)
  }
}

/**
 * Kills brokers whose owning Node process is gone and deletes their data
 * dirs: `<parent>/<prefix>*` folders only. A test run killed outright (no
 * teardown, no exit hook) would otherwise leave a 512 MB JVM behind on a
 * machine several people share. Brokers of live runs and the CLI's detached
 * brokers (no owner) are left alone.
 */
export async function reapOrphanBrokers(parent: string, prefix: string, log: Log = quiet): Promise<number> {
  let reaped = 0
  const entries = await fsp.readdir(parent).catch(() => [] as string[])
  for (const name of entries.filter((n) => n.startsWith(prefix))) {
    const dir = path.join(parent, name)
    const state = readBrokerState(dir)
    if (state?.ownerPid === undefined || isAlive(state.ownerPid)) continue
    if (state.pid !== undefined && isAlive(state.pid) && isOurBroker(state.pid, dir)) {
      log(`stopping broker pid ${state.pid} on ${dir}: its owner (pid ${state.ownerPid}) is gone`)
      await stopPid(state.pid, 0)
    }
    await fsp.rm(dir, { recursive: true, force: true })
    reaped++
  }
  return reaped
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Whether `p` settles within `ms`; the timer is cleared either way so it cannot hold the process open. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([p.then(() => true as const), timeout])
  } finally {
    clearTimeout(timer)
  }
}

async function tail(file: string, lines: number): Promise<string> {
  try {
    const text = await fsp.readFile(file, 'utf8')
    return text.split('\n').slice(-lines).join('\n')
  } catch {
    return `(no ${path.basename(file)})`
  }
}

function serverProperties(o: { port: number; controllerPort: number; logDirs: string; version: string; autoCreateTopics: boolean; saslSsl: SaslSslMaterial | undefined; extra: Record<string, string | number | boolean> }): string {
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    // Static voters rather than a formatted dynamic quorum: 3.9 and 4.x both
    // accept it, and nothing about the ports is written into the log dirs.
    'controller.quorum.voters': `1@127.0.0.1:${o.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${o.port}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': o.logDirs,
    'auto.create.topics.enable': o.autoCreateTopics,
    'num.partitions': 1,
    'default.replication.factor': 1,
    'offsets.topic.replication.factor': 1,
    // 50 by default: created on the first group join, and each partition costs
    // files and a few ms on a 2-core machine. 8 still spreads groups out.
    'offsets.topic.num.partitions': 8,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 4,
    // A test's consumer would otherwise wait 3 s for more members that never come.
    'group.initial.rebalance.delay.ms': 0,
    // After a crash the controller refuses the new incarnation
    // (DUPLICATE_BROKER_REGISTRATION) until the dead one's session expires:
    // 9 s by default, which every crash test would wait out.
    'broker.session.timeout.ms': 4000,
    'broker.heartbeat.interval.ms': 500,
    'num.network.threads': 2,
    'num.io.threads': 4,
    'num.recovery.threads.per.data.dir': 1,
    'log.retention.hours': 168,
    ...(majorOf(o.version) >= 4
      ? { 'share.coordinator.state.topic.replication.factor': 1, 'share.coordinator.state.topic.min.isr': 1 }
      : {}),
    ...(o.saslSsl ? saslSslProperties(o.saslSsl, o.port, o.controllerPort) : {}),
    ...o.extra,
  }
  return `# Written by scripts/kafka/local-broker.ts at every start; edits are lost.\n${Object.entries(props)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('\n')}\n`
}

class JvmBroker implements LocalBroker {
  readonly version: string
  readonly dataDir: string
  readonly logFile: string
  private portPair: { port: number; controllerPort: number }
  saslSsl: SaslSslMaterial | undefined
  private child: ChildProcess | undefined
  private detachedPid: number | undefined
  private exited: Promise<void> = Promise.resolve()
  private readonly opts: LocalBrokerOptions
  private readonly log: Log
  private readonly killOnExit = (): void => {
    if (this.child?.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      try {
        this.child.kill('SIGKILL')
      } catch {
        /* already gone */
      }
    }
  }

  constructor(opts: LocalBrokerOptions, version: string, ports: { port: number; controllerPort: number }) {
    this.opts = opts
    this.version = version
    this.dataDir = path.resolve(opts.dataDir)
    this.logFile = path.join(this.dataDir, 'logs', 'server.log')
    this.portPair = ports
    this.log = opts.log ?? quiet
  }

  get port(): number {
    return this.portPair.port
  }
  get controllerPort(): number {
    return this.portPair.controllerPort
  }
  get brokers(): string {
    return `127.0.0.1:${this.portPair.port}`
  }
  get pid(): number | undefined {
    return this.running ? (this.child?.pid ?? this.detachedPid) : undefined
  }
  get running(): boolean {
    if (this.child) return this.child.exitCode === null && this.child.signalCode === null
    return this.detachedPid !== undefined && isAlive(this.detachedPid)
  }

  /** First start: may move to fresh ports if the chosen ones were taken meanwhile. */
  async boot(portsChosenByCaller: boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.start()
        return
      } catch (err) {
        const bindFailed = /Address already in use|BindException/.test(await tail(this.logFile, 200))
        if (!bindFailed || portsChosenByCaller || attempt >= 3) throw err
        this.log(`ports ${this.port}/${this.controllerPort} were taken; trying fresh ones`)
        this.portPair = { port: await freePort(), controllerPort: await freePort() }
        // The failed attempt's bind error must not be read again as this attempt's.
        await fsp.rm(this.logFile, { force: true })
      }
    }
  }

  async start(): Promise<void> {
    if (this.running) return
    const { libsDir } = await ensureKafkaLibs(this.version, { cacheDir: this.opts.cacheDir, log: this.log })
    const logsDir = path.join(this.dataDir, 'logs')
    const logDirs = path.join(this.dataDir, 'kraft-logs')
    const propsFile = path.join(this.dataDir, 'server.properties')
    await fsp.mkdir(logsDir, { recursive: true })
    await this.killStaleBroker()

    const previous = readBrokerState(this.dataDir)
    const formatted = fs.existsSync(path.join(logDirs, 'meta.properties'))
    // SCRAM users are written into the metadata at format time: a data dir cannot change modes afterwards.
    if (formatted && previous && (previous.saslSsl ?? false) !== (this.opts.saslSsl !== undefined)) {
      throw new Error(`${this.dataDir} was formatted for a ${previous.saslSsl ? 'SASL_SSL' : 'PLAINTEXT'} listener; reset it (or use another data dir) to change that`)
    }
    if (this.opts.saslSsl) this.saslSsl = ensureSaslSslMaterial(this.dataDir, javaBin(), this.opts.saslSsl)
    await fsp.writeFile(
      propsFile,
      serverProperties({ port: this.port, controllerPort: this.controllerPort, logDirs, version: this.version, autoCreateTopics: this.opts.autoCreateTopics ?? false, saslSsl: this.saslSsl, extra: this.opts.config ?? {} }),
    )
    const clusterId = previous?.clusterId ?? newClusterId()
    if (!formatted) await this.format(libsDir, propsFile, clusterId)

    const out = fs.openSync(path.join(logsDir, 'stdout.log'), 'a')
    const detached = this.opts.detached ?? false
    const child = spawn(javaBin(), [...this.jvmArgs(libsDir, logsDir, this.opts.heapMax ?? '512m'), 'kafka.Kafka', propsFile], {
      cwd: this.dataDir,
      stdio: ['ignore', out, out],
      detached,
    })
    fs.closeSync(out)
    const spawnError = new Promise<never>((_, reject) => child.once('error', reject))
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
    child.once('exit', (code, signal) => {
      process.off('exit', this.killOnExit)
      if (this.child === child && !this.stopping) this.log(`Kafka broker (pid ${child.pid}) exited on its own: code ${code} signal ${signal}; see ${this.logFile}`)
    })
    if (detached) {
      child.unref()
      this.detachedPid = child.pid
      this.child = undefined
    } else {
      this.child = child
      // A test run that dies without its teardown must not leave a JVM behind.
      process.on('exit', this.killOnExit)
    }
    const pid = child.pid
    if (pid === undefined) await spawnError
    await fsp.writeFile(path.join(this.dataDir, 'broker.pid'), `${pid}\n`)
    const state: BrokerState = { version: this.version, port: this.port, controllerPort: this.controllerPort, pid, brokers: this.brokers, clusterId, ...(detached ? {} : { ownerPid: process.pid }), ...(this.saslSsl ? { saslSsl: true } : {}) }
    await fsp.writeFile(path.join(this.dataDir, 'broker.json'), `${JSON.stringify(state, null, 2)}\n`)

    const started = Date.now()
    try {
      // A secured broker is asked as its first user, through the same settings fundwatch itself reads.
      const security = this.saslSsl ? kafkaSecurity(configFromEnv(saslSslEnv(this.saslSsl))) : undefined
      await Promise.race([waitForCluster(this.brokers, { timeoutMs: this.opts.readyTimeoutMs ?? 120_000, isAlive: () => this.running, security }), spawnError])
    } catch (err) {
      const logTail = await tail(this.logFile, 40)
      const stdoutTail = await tail(path.join(logsDir, 'stdout.log'), 20)
      await this.kill()
      throw new Error(`Kafka ${this.version} did not become ready on ${this.brokers}: ${(err as Error).message}\n--- ${this.logFile} (tail)\n${logTail}\n--- stdout.log (tail)\n${stdoutTail}`, { cause: err })
    }
    this.log(`Kafka ${this.version} ready on ${this.brokers} (pid ${pid}) in ${Date.now() - started} ms`)
  }

  private stopping = false

  async stop(): Promise<void> {
    await this.halt('SIGTERM')
  }

  async kill(): Promise<void> {
    await this.halt('SIGKILL')
  }

  async restart(): Promise<void> {
    await this.stop()
    await this.start()
  }

  private async halt(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const pid = this.pid
    if (pid === undefined) return
    this.stopping = true
    try {
      if (!this.child) {
        // Detached: not our child, so no exit event; poll the pid instead.
        if (signal === 'SIGKILL') process.kill(pid, 'SIGKILL')
        await stopPid(pid, signal === 'SIGKILL' ? 0 : (this.opts.stopTimeoutMs ?? 30_000))
        this.detachedPid = undefined
        return
      }
      this.child.kill(signal)
      const timeoutMs = this.opts.stopTimeoutMs ?? 30_000
      const inTime = await settlesWithin(this.exited, timeoutMs)
      if (!inTime) {
        this.log(`Kafka broker (pid ${pid}) still running ${timeoutMs} ms after ${signal}; sending SIGKILL`)
        this.child.kill('SIGKILL')
        await this.exited
      }
    } finally {
      this.stopping = false
    }
  }

  /** A broker left running on this data dir by a run that crashed would hold the ports and the log-dir lock. */
  private async killStaleBroker(): Promise<void> {
    const pidFile = path.join(this.dataDir, 'broker.pid')
    const pid = Number((await fsp.readFile(pidFile, 'utf8').catch(() => '')).trim())
    if (pid > 0 && pid !== this.child?.pid && isAlive(pid) && isOurBroker(pid, this.dataDir)) {
      this.log(`stopping a broker (pid ${pid}) left running on ${this.dataDir}`)
      await stopPid(pid, 10_000)
    }
  }

  private jvmArgs(libsDir: string, logsDir: string, heapMax: string): string[] {
    const logging = majorOf(this.version) >= 4 ? [`-Dlog4j2.configurationFile=${LOG4J2_CONFIG}`] : [`-Dlog4j.configuration=file:${LOG4J1_CONFIG}`]
    return [
      '-Xms64m',
      `-Xmx${heapMax}`,
      // Kafka's own defaults from kafka-run-class.sh.
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:InitiatingHeapOccupancyPercent=35',
      '-XX:+ExplicitGCInvokesConcurrent',
      '-XX:+ExitOnOutOfMemoryError',
      '-XX:-UsePerfData',
      '-Djava.awt.headless=true',
      `-Dkafka.logs.dir=${logsDir}`,
      ...logging,
      '-cp',
      `${libsDir}/*`,
    ]
  }

  private async format(libsDir: string, propsFile: string, clusterId: string): Promise<void> {
    const logsDir = path.join(this.dataDir, 'logs')
    const scram = this.saslSsl ? scramFormatArgs(this.saslSsl) : []
    const args = [...this.jvmArgs(libsDir, logsDir, '256m'), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile, '--ignore-formatted', ...scram]
    const result = await run(javaBin(), args, { cwd: this.dataDir })
    await fsp.appendFile(path.join(logsDir, 'format.log'), result.output)
    if (result.code !== 0) throw new Error(`kafka.tools.StorageTool format failed (exit ${String(result.code)}):\n${result.output.slice(-3000)}`)
  }
}

/**
 * Fetches Kafka if needed, formats `dataDir` on first use, starts the broker
 * and resolves once it answers DescribeCluster.
 */
export async function startLocalBroker(opts: LocalBrokerOptions): Promise<LocalBroker> {
  const version = opts.version ?? kafkaVersion()
  const saved = readBrokerState(opts.dataDir)
  const port = opts.port ?? saved?.port ?? (await freePort())
  let controllerPort = opts.controllerPort ?? saved?.controllerPort ?? (await freePort())
  while (controllerPort === port) controllerPort = await freePort()
  const broker = new JvmBroker(opts, version, { port, controllerPort })
  await broker.boot(opts.port !== undefined)
  return broker
}
