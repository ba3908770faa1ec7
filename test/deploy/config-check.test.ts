import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { cli } from '../../src/cli/commands.ts'
import { mask } from '../../src/cli/config-check.ts'
import { configFromEnv } from '../../src/config.ts'
import { captureCli } from '../helpers/cli.ts'
import { deploy, root } from './files.ts'

const io = captureCli({})
const scratch = mkdtempSync(join(tmpdir(), 'fundwatch-config-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))
const example = join(deploy, 'compose.env.example')

function envFile(name: string, env: Record<string, string>): string {
  const file = join(scratch, name)
  writeFileSync(file, Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(''))
  return file
}

describe('configFromEnv judges the environment it is given', () => {
  it('refuses FUNDWATCH_DATA_DIR next to CLICKHOUSE_URL in that environment, whatever this process has', () => {
    vi.stubEnv('FUNDWATCH_DATA_DIR', '')
    expect(() => configFromEnv({ CLICKHOUSE_URL: 'http://ch:8123', FUNDWATCH_DATA_DIR: '/data' })).toThrow(/CONFIG_INVALID|FUNDWATCH_DATA_DIR is for embedded chDB/)
    expect(() => configFromEnv({ CLICKHOUSE_URL: 'http://ch:8123', FUNDWATCH_DATA_DIR: '/data' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }))
  })

  it('accepts CLICKHOUSE_URL alone even when this process has FUNDWATCH_DATA_DIR set', () => {
    vi.stubEnv('FUNDWATCH_DATA_DIR', '/somewhere')
    expect(configFromEnv({ CLICKHOUSE_URL: 'http://ch:8123' }).clickhouseUrl).toBe('http://ch:8123')
  })
})

describe('fundwatch config check', () => {
  it('passes every role for the compose env file, printing what each uses with the password masked', async () => {
    expect(await cli(['config', 'check', '--env-file', example])).toBe(0)
    const out = io.out.join('\n')
    for (const role of ['processor (fundwatch run): ok', 'api (fundwatch serve): ok', 'audit (fundwatch audit): ok', 'migrate (fundwatch migrate): ok', 'topics (fundwatch topics create): ok']) expect(out).toContain(role)
    expect(out).toContain('ClickHouse server http://fundwatch:****@clickhouse:8123, database fundwatch')
    expect(out).toMatch(/knowledge base +the generated SAMPLE knowledge base \(FUNDWATCH_KB unset\)/)
    expect(out).not.toContain('change-me')
  })

  it('judges the file alone, not this shell: a file without KAFKA_BROKERS fails the processor and topics roles (exit 1) though the shell has brokers', async () => {
    vi.stubEnv('KAFKA_BROKERS', 'localhost:9092')
    const file = envFile('no-brokers.env', { CLICKHOUSE_URL: 'http://u:secret@ch:8123' })
    expect(await cli(['config', 'check', '--env-file', file, '--json'])).toBe(1)
    const r = JSON.parse(io.out.join('\n')) as { ok: boolean; roles: { role: string; ok: boolean; error?: string }[] }
    expect(r.ok).toBe(false)
    expect(Object.fromEntries(r.roles.map((x) => [x.role, x.ok]))).toEqual({ processor: false, api: true, audit: true, migrate: true, topics: false })
    expect(r.roles[0]!.error).toMatch(/^CONFIG_INVALID: KAFKA_BROKERS is not set/)
    expect(io.out.join('\n')).not.toContain('secret')
  })

  it('layers several env files in order, later ones winning, as compose does', async () => {
    const override = envFile('override.env', { KAFKA_BROKERS: 'other:9092' })
    expect(await cli(['config', 'check', '--env-file', example, '--env-file', override, '--role', 'topics'])).toBe(0)
    expect(io.out.join('\n')).toMatch(/kafka +other:9092/)
  })

  it('a value start-up refuses fails every role with the same message start-up gives', async () => {
    const file = envFile('bad-port.env', { PORT: 'eighty', KAFKA_BROKERS: 'k:9092' })
    expect(await cli(['config', 'check', '--env-file', file])).toBe(1)
    const fails = io.out.join('\n').split('\n').filter((l) => / FAILS — /.test(l))
    expect(fails).toHaveLength(5)
    for (const l of fails) expect(l).toMatch(/CONFIG_INVALID: port: /)
  })

  it('checks this process\'s environment without --env-file; an unknown role is a usage error (2); a missing file exit 1', async () => {
    vi.stubEnv('CLICKHOUSE_URL', 'http://ch:8123')
    vi.stubEnv('FUNDWATCH_DATA_DIR', '')
    vi.stubEnv('KAFKA_BROKERS', 'k:9092')
    expect(await cli(['config', 'check', '--role', 'processor', '--role', 'migrate'])).toBe(0)
    expect(io.out[0]!.split('\n')[0]).toBe("fundwatch config check: this process's environment")
    expect(await cli(['config', 'check', '--role', 'scheduler'])).toBe(2)
    expect(io.err.at(-1)).toMatch(/unknown role "scheduler" \(one of processor, api, audit, migrate, topics\)/)
    expect(await cli(['config', 'check', '--env-file', join(scratch, 'nope.env')])).toBe(1)
    expect(io.err.at(-1)).toMatch(/^fundwatch config: cannot read the env file/)
  })

  it('masks passwords in URLs and secret-named settings', () => {
    expect(mask('clickhouseUrl', 'https://user:p%40ss@ch.example:8443/x')).toBe('https://user:****@ch.example:8443/x')
    expect(mask('clickhouseUrl', 'http://ch:8123')).toBe('http://ch:8123')
    expect(mask('kafkaSaslPassword', 'hunter2')).toBe('****')
    expect(mask('port', 8080)).toBe('8080')
  })
})

describe('server mode without the chdb package (the server image)', () => {
  // A process that cannot resolve chdb, as in the image's server target.
  const run = (file: string) => spawnSync(process.execPath, ['--import', join(import.meta.dirname, 'no-chdb.mjs'), join(root, 'bin/fundwatch.mjs'), 'config', 'check', '--env-file', file], { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH } })

  it('every role passes with CLICKHOUSE_URL: nothing on that path loads chdb', () => {
    const r = run(example)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  it('an embedded configuration there says plainly what is missing', () => {
    const r = run(envFile('embedded.env', { KAFKA_BROKERS: 'k:9092' }))
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(/migrate \(fundwatch migrate\): FAILS — CONFIG_INVALID: embedded chDB is not installed here \(the server-mode image leaves it out\): set CLICKHOUSE_URL/)
    expect(r.stdout).toMatch(/topics \(fundwatch topics create\): ok/)
  })
})
