import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseEnv } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { ROLES, type Role } from '../../src/cli/config-check.ts'
import { cli } from '../../src/cli/commands.ts'
import { captureCli } from '../helpers/cli.ts'
import { deploy, envFiles, imageEnv, readCompose, readDockerfile, root, type ComposeService } from './files.ts'

/**
 * deploy/compose.yaml cannot be started here (no Docker engine). These stand
 * in: every fundwatch service, with exactly the environment compose gives its
 * container — the image's ENV for the service's build target, then its
 * env_file (the committed *.example), then its `environment` — passes
 * `fundwatch config check` for the role it runs; and the file's structure.
 */
const compose = readCompose()
const { stages } = readDockerfile()
const fundwatch = Object.entries(compose.services).filter(([, s]) => s.build)
const io = captureCli({})
const scratch = mkdtempSync(join(tmpdir(), 'fundwatch-compose-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** The committed stand-in of an env file the operator creates from it. */
function envFile(path: string): string {
  const real = resolve(deploy, path)
  return existsSync(`${real}.example`) ? `${real}.example` : real
}

function containerEnv(s: ComposeService): Record<string, string> {
  return {
    ...imageEnv(stages, s.build!.target ?? stages.at(-1)!.name),
    ...Object.assign({}, ...envFiles(s).map((f) => parseEnv(readFileSync(envFile(f.path), 'utf8')))),
    ...Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)])),
  }
}

const words = (x: string[] | string | undefined) => (Array.isArray(x) ? x.join(' ') : (x ?? ''))

describe('deploy/compose.yaml: every fundwatch role starts with the environment compose gives it', () => {
  it('has the roles of the stack: migrate, topics, two processors, api, audit', () => {
    const roles = fundwatch.map(([, s]) => s.labels?.['org.fundwatch.role'])
    expect(roles.sort()).toEqual(['api', 'audit', 'migrate', 'processor', 'topics'])
    expect(compose.services.processor!.deploy?.replicas).toBe(2)
  })

  it.each(fundwatch.map(([name, s]) => [name, s] as const))('%s passes `fundwatch config check` for its role', async (name, s) => {
    const role = s.labels?.['org.fundwatch.role'] as Role
    expect(Object.keys(ROLES), name).toContain(role)
    // The service really runs that role: the CLI command is its command line.
    const entry = (readDockerfile().stages.find((x) => x.name === s.build!.target)!.instructions.findLast((i) => i.op === 'ENTRYPOINT')!.args)
    const main = (JSON.parse(entry) as string[]).at(-1)!
    if (s.entrypoint) expect(words(s.command)).toContain(`${main} ${ROLES[role].command}`)
    else expect(words(s.command).startsWith(ROLES[role].command), name).toBe(true)

    const env = containerEnv(s)
    const file = join(scratch, `${name}.env`)
    writeFileSync(file, Object.entries(env).map(([k, v]) => `${k}=${JSON.stringify(v)}\n`).join(''))
    const code = await cli(['config', 'check', '--env-file', file, '--role', role, '--json'])
    const r = JSON.parse(io.out.join('\n')) as { ok: boolean; roles: { ok: boolean; error?: string; uses: Record<string, string> }[] }
    expect(r.roles[0]?.error, name).toBeUndefined()
    expect(code, name).toBe(0)
    // Server mode, secrets masked in what it prints.
    if (role !== 'topics') expect(r.roles[0]!.uses.store).toMatch(/^ClickHouse server http:\/\/fundwatch:\*{4}@clickhouse:8123/)
    expect(io.out.join('\n')).not.toContain('change-me')
    // The sample knowledge base is said out loud where it is used.
    if (role === 'processor' || role === 'api' || role === 'audit') expect(r.roles[0]!.uses['knowledge base']).toMatch(/SAMPLE/)
  })

  it('a role the image would break is caught: the old FUNDWATCH_DATA_DIR=/data image ENV next to CLICKHOUSE_URL fails the check', async () => {
    const s = compose.services.processor!
    const file = join(scratch, 'old-image.env')
    const env = { ...containerEnv(s), FUNDWATCH_DATA_DIR: '/data' }
    writeFileSync(file, Object.entries(env).map(([k, v]) => `${k}=${JSON.stringify(v)}\n`).join(''))
    expect(await cli(['config', 'check', '--env-file', file, '--role', 'processor'])).toBe(1)
    expect(io.out.join('\n')).toMatch(/processor \(fundwatch run\): FAILS — CONFIG_INVALID: config: FUNDWATCH_DATA_DIR is for embedded chDB/)
  })
})

describe('deploy/compose.yaml: structure', () => {
  it('pins every image to a version (never latest or a bare major), fundwatch to the package version', () => {
    const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.image, name).toBeDefined()
      if (s.build) expect(s.image, name).toBe(`fundwatch:${version}`)
      else expect(s.image, name).toMatch(/^[\w./-]+(:v?\d+\.\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})$/)
    }
  })

  it('every file it references exists: build context and Dockerfile, bind mounts, env files (or their committed .example, the real one git-ignored)', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.build) {
        expect(existsSync(resolve(deploy, s.build.context)), name).toBe(true)
        expect(existsSync(resolve(deploy, s.build.context, s.build.dockerfile)), name).toBe(true)
        expect(readDockerfile().stages.map((x) => x.name), name).toContain(s.build.target)
      }
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!
        if (source.startsWith('.') || source.startsWith('/')) expect(existsSync(resolve(deploy, source)), `${name}: ${v}`).toBe(true)
        else expect(Object.keys(compose.volumes ?? {}), `${name}: ${v}`).toContain(source)
      }
      for (const f of envFiles(s)) {
        const real = resolve(deploy, f.path)
        if (existsSync(`${real}.example`)) {
          // The operator's copy holds the secrets: never committed.
          expect(() => execFileSync('git', ['check-ignore', '-q', real], { cwd: root }), `${f.path} is not git-ignored`).not.toThrow()
        } else {
          expect(existsSync(real), `${name}: env_file ${f.path}`).toBe(true)
        }
      }
    }
    // Prometheus loads the rules next to its config: every rule file is mounted there.
    const prom = parse(readFileSync(join(deploy, 'prometheus/prometheus.yml'), 'utf8')) as { rule_files: string[] }
    for (const r of prom.rule_files) expect(compose.services.prometheus!.volumes).toContain(`./prometheus/${r}:/etc/prometheus/${r}:ro`)
  })

  it('has no inline secrets: passwords come from env files', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [k, v] of Object.entries(s.environment ?? {})) {
        expect(k, name).not.toMatch(/PASSWORD|SECRET|TOKEN/)
        expect(String(v), `${name}: ${k}`).not.toMatch(/:\/\/[^/@\s]*:[^@\s]*@/)
      }
    }
  })

  it('every long-running service has a healthcheck, a restart policy and resource limits; one-shot jobs restart on failure', () => {
    const oneShot = new Set(Object.values(compose.services).flatMap((s) => Object.entries(s.depends_on ?? {}).filter(([, d]) => (d as { condition: string }).condition === 'service_completed_successfully').map(([n]) => n)))
    expect([...oneShot].sort()).toEqual(['migrate', 'topics'])
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.deploy?.resources?.limits?.memory, name).toMatch(/^\d+[mg]$/)
      expect(s.deploy?.resources?.limits?.cpus, name).toMatch(/^\d+(\.\d+)?$/)
      if (oneShot.has(name)) {
        expect(s.restart, name).toMatch(/^on-failure(:\d+)?$/)
      } else {
        expect(s.restart, name).toBe('unless-stopped')
        expect(s.healthcheck?.test, `${name} has no healthcheck`).toBeDefined()
        expect(s.healthcheck?.disable, name).toBeFalsy()
      }
    }
  })

  it('waits for readiness: depends_on only with conditions — service_healthy on a healthchecked service, service_completed_successfully on a one-shot job', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      if (!s.depends_on) continue
      expect(Array.isArray(s.depends_on), `${name}: depends_on as a list waits for nothing`).toBe(false)
      for (const [dep, d] of Object.entries(s.depends_on as Record<string, { condition: string }>)) {
        const target = compose.services[dep]
        expect(target, `${name} → ${dep}`).toBeDefined()
        if (d.condition === 'service_healthy') expect(target!.healthcheck?.test, `${name} → ${dep} has no healthcheck`).toBeDefined()
        else expect(d.condition, `${name} → ${dep}`).toBe('service_completed_successfully')
      }
    }
    // No fundwatch role starts before the schema is migrated.
    for (const [name, s] of fundwatch) {
      if (name !== 'migrate' && name !== 'topics') expect((s.depends_on as Record<string, { condition: string }>).migrate, name).toEqual({ condition: 'service_completed_successfully' })
    }
  })
})
