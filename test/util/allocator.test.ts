import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ALLOCATOR_ENV, withAllocatorEnv } from '../../src/util/allocator.ts'
import { imageEnv, readDockerfile } from '../deploy/files.ts'

/**
 * Issue 13 (the 10M-event soak's native growth): the CLI's working process
 * runs under the project's glibc malloc settings without the user setting
 * them, and stays the process that was started — the pid a supervisor or a
 * crash test signals.
 */
const root = join(import.meta.dirname, '../..')
const dir = mkdtempSync(join(tmpdir(), 'fw-allocator-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
// Preloaded into the CLI: at exit, the pid and the environment of the process that ran the command.
const probe = join(dir, 'probe.mjs')
writeFileSync(probe, `process.on('exit', () => process.stderr.write('probe ' + JSON.stringify({ pid: process.pid, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? null }) + '\\n'))\n`)
// process.execve is what lets the CLI re-execute itself in place; Node 20 lacks it and the CLI then runs as it is.
const canReexec = process.platform === 'linux' && typeof (process as { execve?: unknown }).execve === 'function'

function fundwatch(args: string[], env: Record<string, string>): Promise<{ pid: number; code: number | null; stdout: string; probes: { pid: number; MALLOC_ARENA_MAX: string | null }[] }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !(k in ALLOCATOR_ENV) && k !== 'GLIBC_TUNABLES'))
  const child = spawn(process.execPath, ['--import', probe, join(root, 'bin/fundwatch.mjs'), ...args], { cwd: dir, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (code) => resolve({
      pid: child.pid!, code, stdout,
      probes: stderr.split('\n').filter((l) => l.startsWith('probe ')).map((l) => JSON.parse(l.slice('probe '.length)) as { pid: number; MALLOC_ARENA_MAX: string | null }),
    }))
  })
}

describe('withAllocatorEnv', () => {
  it('adds the malloc settings an environment lacks and keeps the ones the operator set', () => {
    expect(withAllocatorEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', MALLOC_ARENA_MAX: '2' })
    const own = { PATH: '/bin', MALLOC_ARENA_MAX: '8' }
    expect(withAllocatorEnv(own)).toBe(own)
    const tunable = { GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0:glibc.malloc.arena_max=4' }
    expect(withAllocatorEnv(tunable)).toBe(tunable)
    expect(withAllocatorEnv({ GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0' })).toEqual({ GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0', MALLOC_ARENA_MAX: '2' })
  })
})

describe('bin/fundwatch.mjs under the project malloc settings (issue 13 soak: native RSS growth)', () => {
  it(`runs the command in the process that was started, with MALLOC_ARENA_MAX=${ALLOCATOR_ENV.MALLOC_ARENA_MAX} where Node can re-execute in place`, async () => {
    const r = await fundwatch(['--version'], {})
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
    // One process ran the command, and it is the one spawned: signals sent to that pid reach it.
    expect(r.probes).toEqual([{ pid: r.pid, MALLOC_ARENA_MAX: canReexec ? ALLOCATOR_ENV.MALLOC_ARENA_MAX : null }])
  })

  it("keeps the operator's own MALLOC_ARENA_MAX, and the command's exit code", async () => {
    const r = await fundwatch(['no-such-command'], { MALLOC_ARENA_MAX: '4' })
    expect(r.code).toBe(2)
    expect(r.probes).toEqual([{ pid: r.pid, MALLOC_ARENA_MAX: '4' }])
    const reexecuted = await fundwatch(['no-such-command'], {})
    expect(reexecuted.code).toBe(2)
    expect(reexecuted.probes).toEqual([{ pid: reexecuted.pid, MALLOC_ARENA_MAX: canReexec ? ALLOCATOR_ENV.MALLOC_ARENA_MAX : null }])
  })
})

describe('deploy/Dockerfile under the project malloc settings', () => {
  // The image runs dist/src/cli/main.js with plain node, not bin/fundwatch.mjs: its ENV carries the settings.
  it.each(['embedded', 'server'])('%s sets them in its environment', (target) => {
    const env = imageEnv(readDockerfile().stages, target)
    for (const [k, v] of Object.entries(ALLOCATOR_ENV)) expect(env[k], `${target}: ${k}`).toBe(v)
  })
})
