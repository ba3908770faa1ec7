import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { COMMANDS, ENVIRONMENT, cli, mainHelp, synopsis, version } from '../../src/cli/commands.ts'
import { faultFromEnv } from '../../src/kafka/processor.ts'
import { removeDir } from '../helpers/app.ts'
import { importGraph } from '../helpers/imports.ts'
import { captureCli } from '../helpers/cli.ts'

/**
 * The CLI's contract, driven by its own command table: every command answers
 * --help with its usage (exit 0, nothing else done) and refuses a usage error
 * with exit 2 and one line; runtime failures exit 1 with one line, no stack,
 * and before the store is opened.
 */
const root = join(import.meta.dirname, '../..')
const scratch = mkdtempSync(join(tmpdir(), 'fw-cli-table-'))
// Where a command would put its embedded store if it opened one: must stay absent.
const dataDir = join(scratch, 'data')
const io = captureCli({ FUNDWATCH_DATA_DIR: dataDir, CLICKHOUSE_URL: '' })

function bin(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(root, 'bin/fundwatch.mjs'), ...args], {
    cwd: scratch, encoding: 'utf8', timeout: 60_000,
    env: { ...process.env, FUNDWATCH_DATA_DIR: dataDir, CLICKHOUSE_URL: '', KAFKA_BROKERS: '', ...env },
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe.each(COMMANDS.map((c) => [c.name, c] as const))('fundwatch %s', (name, c) => {
  it('prints its usage and every flag on --help, exits 0 and does nothing else', async () => {
    expect(await cli([name, '--help'])).toBe(0)
    const help = io.out.join('\n')
    expect(help).toMatch(new RegExp(`^usage: fundwatch ${name}\\b`))
    for (const flag of Object.keys(c.flags)) expect(help).toContain(`--${flag}`)
    expect(io.err).toEqual([])
    expect(await cli([name, '-h', '--no-such-flag'])).toBe(0)
    expect(await cli(['help', name])).toBe(0)
    expect(io.out.at(-1)).toBe(help)
    expect(existsSync(dataDir)).toBe(false)
  })

  it('refuses an unknown flag and a wrong argument count with exit 2 and one line', async () => {
    expect(await cli([name, '--no-such-flag'])).toBe(2)
    expect(io.err).toEqual([`fundwatch ${name}: Unknown option '--no-such-flag' (see fundwatch ${name} --help)`])
    const { min, max } = c.positionals ?? { min: 0, max: 0 }
    const wrong = min > 0 ? [] : Array.from({ length: max + 1 }, () => 'extra')
    expect(await cli([name, ...wrong])).toBe(2)
    expect(io.err).toHaveLength(2)
    expect(io.err[1]).toMatch(new RegExp(`^fundwatch ${name}: (missing|unexpected argument).*\\(see fundwatch ${name} --help\\)$`))
    if (c.subcommands) {
      expect(await cli([name, 'no-such-subcommand'])).toBe(2)
      expect(io.err[2]).toMatch(/unknown subcommand "no-such-subcommand"/)
    }
    expect(io.out).toEqual([])
    expect(existsSync(dataDir)).toBe(false)
  })
})

describe('fundwatch (the command table)', () => {
  it('lists every command in the main help, answers --version, and refuses an unknown command with 2', async () => {
    expect(await cli(['--help'])).toBe(0)
    for (const c of COMMANDS) expect(io.out[0]).toMatch(new RegExp(`^  ${c.name}\\s+${c.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'))
    expect(await cli(['--version'])).toBe(0)
    expect(io.out[1]).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version)
    expect(await cli(['frobnicate'])).toBe(2)
    expect(io.err).toEqual(['fundwatch: unknown command "frobnicate" (see fundwatch --help)'])
  })

  it('answers --help and --version without loading the app: the entry and the table import no module of src/', () => {
    const graph = importGraph(['src', 'schemas'], { lazy: false })
    expect(graph.get('src/cli/main.ts')).toEqual(['src/cli/commands.ts'])
    expect(graph.get('src/cli/commands.ts')).toEqual([])
  })

  it('documents every environment variable the code reads, and the README shows the main help and every flag', () => {
    const src = importGraph(['src']).keys()
    const read = new Set([...src].flatMap((f) => [...readFileSync(join(root, f), 'utf8').matchAll(/\b(FUNDWATCH_[A-Z_]+|METRICS_PORT|KAFKA_[A-Z_]+|CLICKHOUSE_URL|LOG_LEVEL)\b/g)].map((m) => m[1]!)))
    const documented = new Set(ENVIRONMENT.map((e) => e.name))
    expect([...read].filter((v) => !documented.has(v))).toEqual([])
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    expect(readme).toContain(mainHelp().replace(version(), '<version>'))
    for (const c of COMMANDS) expect(readme).toContain(`\`${synopsis(c)}\``)
    for (const e of ENVIRONMENT.filter((x) => x.name !== 'FUNDWATCH_FAULT')) expect(readme, e.name).toMatch(new RegExp(`^\\|[^\\n]*\`${e.name}\``, 'm'))
  })
})

describe('fundwatch through its bin', () => {
  it('start --help prints the usage and starts nothing', () => {
    const r = bin(['start', '--help'])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(r.stdout).toMatch(/^usage: fundwatch start/)
    expect(existsSync(dataDir)).toBe(false)
  })

  it('fails at runtime with exit 1, one line and no stack, before opening the store', () => {
    const missing = bin(['replay', join(scratch, 'no-such-file.jsonl')])
    expect(missing).toMatchObject({ code: 1, stdout: '' })
    expect(missing.stderr).toMatch(/^fundwatch replay: cannot read \S+no-such-file\.jsonl \(ENOENT\)[^\n]*\n$/)
    const noKafka = bin(['run'])
    expect(noKafka).toMatchObject({ code: 1, stdout: '' })
    expect(noKafka.stderr).toMatch(/^fundwatch run: KAFKA_BROKERS is not set[^\n]*\n$/)
    expect(existsSync(dataDir)).toBe(false)
  })

  it('refuses the test-only fault injection outside the test runner', () => {
    const r = bin(['run'], { KAFKA_BROKERS: '127.0.0.1:1', FUNDWATCH_FAULT: 'after-store:1', NODE_ENV: 'production' })
    expect(r).toMatchObject({ code: 1, stdout: '' })
    expect(r.stderr).toMatch(/^fundwatch run: FUNDWATCH_FAULT is a test-only fault injection[^\n]*NODE_ENV=test[^\n]*\n$/)
    expect(existsSync(dataDir)).toBe(false)
    removeDir(scratch)
  })
})

describe('faultFromEnv', () => {
  it('arms the hook only under NODE_ENV=test, refuses it elsewhere, and refuses a malformed spec', () => {
    expect(faultFromEnv({ NODE_ENV: 'test' })).toBeUndefined()
    expect(faultFromEnv({ NODE_ENV: 'test', FUNDWATCH_FAULT: 'after-store:3' })).toBeTypeOf('function')
    expect(() => faultFromEnv({ FUNDWATCH_FAULT: 'after-store:3' })).toThrow(/NODE_ENV=test/)
    expect(() => faultFromEnv({ NODE_ENV: 'production', FUNDWATCH_FAULT: 'after-store:3' })).toThrow(/NODE_ENV=test/)
    expect(() => faultFromEnv({ NODE_ENV: 'test', FUNDWATCH_FAULT: 'sometime' })).toThrow(/expected/)
  })
})
