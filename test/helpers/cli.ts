import { afterEach, beforeEach, vi } from 'vitest'

/**
 * For tests that call the CLI in-process (`cli([...])`): each test runs with
 * `env` stubbed in and console.log / console.error captured line by line into
 * `io.out` / `io.err` (fresh arrays per test), restored afterwards.
 */
export function captureCli(env: Record<string, string>): { out: string[]; err: string[] } {
  const io = { out: [] as string[], err: [] as string[] }
  beforeEach(() => {
    io.out = []
    io.err = []
    for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v)
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { io.out.push(a.join(' ')) })
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { io.err.push(a.join(' ')) })
  })
  afterEach(() => {
    vi.restoreAllMocks()
    vi.unstubAllEnvs()
  })
  return io
}
