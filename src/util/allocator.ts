/**
 * The glibc malloc settings fundwatch runs with (issue 13, the 10M-event soak).
 *
 * chDB's libchdb.so brings no allocator of its own: it imports malloc from
 * glibc, so its worker threads (over 150 in a long replay) allocate from glibc
 * arenas. glibc gives a process up to 8 arenas per core and keeps what is
 * freed in each for reuse, so memory freed by one thread is not reused by
 * another and resident memory creeps up. Fewer arenas keep it down; see
 * docs/operations.md ("Native memory") for what was measured.
 *
 * glibc reads these variables once, when the process starts, so they must be
 * in the environment before Node starts: the image sets them (deploy/Dockerfile),
 * and bin/fundwatch.mjs re-executes itself with them (reexecWithAllocatorEnv).
 * A value the operator set is kept.
 */
export const ALLOCATOR_ENV: Readonly<Record<string, string>> = Object.freeze({ MALLOC_ARENA_MAX: '2' })
/** The glibc tunable each variable is the old name of: an operator may set it in GLIBC_TUNABLES instead. */
const TUNABLE: Readonly<Record<string, string>> = Object.freeze({ MALLOC_ARENA_MAX: 'glibc.malloc.arena_max' })

/** `env` with every ALLOCATOR_ENV variable it does not set already, by its name or as a glibc tunable. */
export function withAllocatorEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const tunables = (env.GLIBC_TUNABLES ?? '').split(':').map((t) => t.split('=')[0])
  const missing = Object.entries(ALLOCATOR_ENV).filter(([k]) => env[k] === undefined && !tunables.includes(TUNABLE[k]))
  return missing.length ? { ...env, ...Object.fromEntries(missing) } : env
}

/**
 * On Linux, when the environment lacks an ALLOCATOR_ENV variable, replaces
 * this process with the same node, flags and arguments under that
 * environment. `process.execve` (Node ≥ 22.15 / 23.11) keeps the process id,
 * open files and stdio, so signals — SIGTERM for a clean stop, SIGKILL in the
 * crash tests — still reach the process that does the work, and its exit code
 * is the caller's. Without it (Node 20, other systems) the process carries on
 * with glibc's defaults. Call it first thing, before any thread or file is
 * opened: whatever this process did before is gone after the call.
 */
export function reexecWithAllocatorEnv(proc: NodeJS.Process = process): void {
  if (proc.platform !== 'linux') return
  const env = withAllocatorEnv(proc.env)
  if (env === proc.env) return
  const execve = (proc as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve
  if (typeof execve !== 'function') return
  execve.call(proc, proc.execPath, [proc.execPath, ...proc.execArgv, ...proc.argv.slice(1)], env)
}
