import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'

/**
 * A real Prometheus server (Debian's `prometheus` package, which .ci/run
 * installs) on loopback, for tests that check rules against real scrapes
 * rather than promtool's synthetic series. Its config, TSDB and log live in
 * `dir`; only 127.0.0.1 is listened on and scraped.
 */
export interface Prometheus {
  url: string
  logFile: string
  /** Instant query; the result vector (empty: the expression is false / has no series). */
  query(expr: string, time?: number): Promise<VectorSample[]>
  /** Range query over what is stored, `step` seconds apart. */
  queryRange(expr: string, start: number, end: number, step: number): Promise<MatrixSeries[]>
  /** Active alerts (pending and firing) as /api/v1/alerts reports them. */
  alerts(): Promise<ActiveAlert[]>
  /** Stops the server (SIGTERM, then SIGKILL after 10 s). */
  stop(): Promise<void>
}

export interface VectorSample { metric: Record<string, string>; value: [number, string] }
export interface MatrixSeries { metric: Record<string, string>; values: [number, string][] }
export interface ActiveAlert { labels: Record<string, string>; annotations: Record<string, string>; state: 'pending' | 'firing'; activeAt: string; value: string }

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, '127.0.0.1', resolve))
  const { port } = srv.address() as { port: number }
  await new Promise<void>((resolve) => srv.close(() => resolve()))
  return port
}

/** Starts Prometheus with `config` (a prometheus.yml as an object) and waits until it is ready. */
export async function startPrometheus(dir: string, config: unknown, readyTimeoutMs = 30_000): Promise<Prometheus> {
  mkdirSync(join(dir, 'tsdb'), { recursive: true })
  const configFile = join(dir, 'prometheus.yml')
  // JSON is YAML: Prometheus reads it as its config.
  writeFileSync(configFile, JSON.stringify(config, null, 2))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const logFile = join(dir, 'prometheus.log')
  const child: ChildProcess = spawn('prometheus', [
    `--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=1h', '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  const log = createWriteStream(logFile, { flags: 'a' })
  child.stdout!.pipe(log)
  child.stderr!.pipe(log)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '')

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
  const deadline = Date.now() + readyTimeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${readLog()}`)
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)
    if (ready) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`prometheus not ready after ${readyTimeoutMs} ms: ${readLog()}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }

  async function api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`)
    const body = (await res.json()) as { status: string; data: T; error?: string }
    if (body.status !== 'success') throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${body.error}`)
    return body.data
  }
  return {
    url, logFile, stop,
    query: async (expr, time) => (await api<{ result: VectorSample[] }>('/api/v1/query', { query: expr, ...(time === undefined ? {} : { time: String(time) }) })).result,
    queryRange: async (expr, start, end, step) => (await api<{ result: MatrixSeries[] }>('/api/v1/query_range', { query: expr, start: String(start), end: String(end), step: String(step) })).result,
    alerts: async () => (await api<{ alerts: ActiveAlert[] }>('/api/v1/alerts')).alerts,
  }
}
