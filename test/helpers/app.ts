import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { createApp, type App, type AppOptions } from '../../src/app.ts'
import { configFromEnv } from '../../src/config.ts'
import { createLogger } from '../../src/log.ts'
import { Metrics } from '../../src/metrics.ts'

/** Every captured JSON log line of a test app, so tests can assert on logs (and scan them for personal data). */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = []
  readonly raw: string[] = []
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue
      this.raw.push(line)
      this.lines.push(JSON.parse(line) as Record<string, unknown>)
    }
    cb()
  }
}

export interface TestApp extends App {
  logs: LogCapture
  dataDir: string
}

/**
 * A real App on real chDB, in its own data directory and its own uniquely named
 * database, so test files never see each other's rows. chDB binds one data
 * directory per process; vitest's forks pool gives each test file its own process.
 */
export async function testApp(opts: AppOptions & { dataDir?: string; database?: string; env?: Record<string, string> } = {}): Promise<TestApp> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'fundwatch-test-'))
  const database = opts.database ?? `t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const logs = new LogCapture()
  // Against a ClickHouse server (CLICKHOUSE_URL) there is no chDB directory to name: start-up refuses the pair.
  const store = process.env.CLICKHOUSE_URL ? { CLICKHOUSE_URL: process.env.CLICKHOUSE_URL } : { FUNDWATCH_DATA_DIR: dataDir, CLICKHOUSE_URL: '' }
  const config = configFromEnv({ ...opts.env, ...store, FUNDWATCH_DB: database })
  const app = await createApp(config, { metrics: new Metrics(), log: createLogger({ level: 'debug', destination: logs }), ...opts })
  return Object.assign(app, { logs, dataDir })
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}
