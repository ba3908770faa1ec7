import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, statfsSync, statSync } from 'node:fs'
import { unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** /dev/shm is used when it has at least this much free (a container's default 64 MiB shm is too small for a few in-flight batches). */
const SHM_MIN_FREE = 256 * 2 ** 20
/** file() expands globs (`*`, `?`, `{a,b}`) and the path sits in a SQL literal: only plain paths are spooled to. */
const PLAIN_PATH = /^[A-Za-z0-9_/.-]+$/

/**
 * Where the embedded store stages an insert's rows for chDB to read with
 * file(): RAM-backed /dev/shm when the machine has it (the bytes are written
 * once and read once, at once — a disk-backed directory would only add
 * write-back for nothing), else os.tmpdir(). One private directory (0700,
 * random name) per store, one file (0600) per insert, removed once the insert
 * returns, whether it succeeded or not; the directory goes on close.
 */
export function spoolBase(): string | undefined {
  let base = tmpdir()
  try {
    if (statSync('/dev/shm').isDirectory()) {
      const fs = statfsSync('/dev/shm')
      if (fs.bavail * fs.bsize >= SHM_MIN_FREE) base = '/dev/shm'
    }
  } catch {
    // No /dev/shm (macOS, some sandboxes): the temporary directory it is.
  }
  return PLAIN_PATH.test(base) ? base : undefined
}

export class InsertSpool {
  private dir: string | undefined

  constructor(private readonly base: string) {}

  /** The store's spool directory, once its first insert has made it. */
  get directory(): string | undefined {
    return this.dir
  }

  /**
   * Writes `body` to a fresh file, runs `use(path)`, removes the file whatever
   * `use` did. Returns false (nothing run) when the file could not be written
   * — the caller sends the rows another way.
   */
  async with(name: string, body: string | Buffer, use: (path: string) => Promise<void>): Promise<boolean> {
    try {
      this.dir ??= mkdtempSync(join(this.base, 'fundwatch-insert-'))
    } catch {
      return false
    }
    const path = join(this.dir, `${name}-${randomUUID()}.jsonl`)
    try {
      await writeFile(path, body, { mode: 0o600, flag: 'wx' })
    } catch (err) {
      await unlink(path).catch(() => {})
      // The directory was removed under us (a tmp cleaner): make it again, once.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false
      try {
        mkdirSync(this.dir, { recursive: true, mode: 0o700 })
        await writeFile(path, body, { mode: 0o600, flag: 'wx' })
      } catch {
        await unlink(path).catch(() => {})
        return false
      }
    }
    try {
      await use(path)
    } finally {
      await unlink(path).catch(() => {})
    }
    return true
  }

  close(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true })
    this.dir = undefined
  }
}
