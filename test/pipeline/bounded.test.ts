import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeKnowledgeBase } from '../../src/kb/loader.ts'
import { HOSPITAL, feeUploaded, institution, item, makeKb, visitOpened } from '../helpers/detect.ts'
import { removeDir } from '../helpers/app.ts'

/**
 * Issue 8 (2): one record under the size limit ran a processor out of memory.
 * A fee.uploaded of N identical drug lines made over-quantity emit N findings
 * each quoting all N lines: 1,000 lines took 4.2 GB, 3,000 (a 902 KB record)
 * hit the heap limit. `fundwatch replay` runs here as a child process on such
 * records, and its peak RSS (getrusage maxrss, written at exit by a preload)
 * must stay under PEAK_RSS_MB: the engine with chDB loaded takes about half of
 * that, and the 1,000-line record adds tens of megabytes, not gigabytes.
 */
const PEAK_RSS_MB = 1024
const root = join(import.meta.dirname, '../..')
const DRUG = 'XC08CAA001'
const T = '2026-03-02T09:00:00+08:00'

let dir: string
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fw-bounded-'))
  const kb = makeKb({
    institutions: [institution(HOSPITAL, { level: 2 })],
    catalog: [item(DRUG, { name: '氨氯地平片', list_type: 'drug', med_chrgitm_type: '09', max_prd_days: 30 })],
  })
  await writeKnowledgeBase(join(dir, 'kb'), kb.data, 'jsonl')
  // Exit hook in the child: its own peak RSS, the kernel's figure (kilobytes on Linux).
  writeFileSync(join(dir, 'peak-rss.mjs'), `import { writeFileSync } from 'node:fs'\nprocess.on('exit', () => writeFileSync(process.env.PEAK_RSS_FILE, String(process.resourceUsage().maxRSS)))\n`)
})
afterAll(() => { if (dir) removeDir(dir) })

function identicalLines(mdtrt_id: string, n: number, tag: string) {
  return feeUploaded({
    event_id: `${tag}-upload`, mdtrt_id,
    lines: Array.from({ length: n }, (_, i) => ({ feedetl_sn: `${tag}${i}`, fee_ocur_time: T, med_list_codg: DRUG, list_type: 'drug' as const, med_chrgitm_type: '09', cnt: '60', pric: '2.00', prd_days: 60 })),
  })
}

function replay(file: string, name: string): Promise<{ code: number | null; stdout: string; peakMb: number }> {
  const rssFile = join(dir, `${name}.rss`)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', join(dir, 'peak-rss.mjs'), join(root, 'bin/fundwatch.mjs'), 'replay', file, '--kb', join(dir, 'kb')], {
      cwd: root,
      env: { ...process.env, FUNDWATCH_DATA_DIR: join(dir, `data-${name}`), FUNDWATCH_DB: `bounded_${name}`, CLICKHOUSE_URL: '', LOG_LEVEL: 'warn', PEAK_RSS_FILE: rssFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    // A replay that runs away (as it did before the fix) is stopped, not left behind.
    const stop = setTimeout(() => child.kill('SIGKILL'), 150_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(stop)
      let peakMb = Infinity
      try { peakMb = Number(readFileSync(rssFile, 'utf8')) / 1024 } catch { /* no exit hook ran: the process died */ }
      resolve({ code, stdout: stdout + stderr.slice(-2000), peakMb })
    })
  })
}

describe('one record is bounded work (regression: 1,000 identical lines took 4.2 GB, 3,000 ran out of heap)', () => {
  it(`replays a 1,000-line record of one drug (the most the contract allows) and the 3,000-line one under ${PEAK_RSS_MB} MB peak RSS`, async () => {
    const file = join(dir, 'amplify.jsonl')
    const events = [
      visitOpened({ event_id: 'b-open', mdtrt_id: 'MDT-B', begntime: '2026-03-02T08:00:00+08:00', med_type: '11' }),
      identicalLines('MDT-B', 1000, 'A'),
      identicalLines('MDT-B', 3000, 'C'),
    ]
    writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n')
    expect(Buffer.byteLength(JSON.stringify(events[2]))).toBeLessThan(1 << 20)
    const r = await replay(file, 'amplify')
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout).toMatch(/events\s+2\b/)
    expect(r.stdout).toMatch(/too_many_lines@payload\.lines=1/)
    expect(r.stdout).toMatch(/over-quantity\s+2\b/) // days of supply and cumulative supply: one finding each
    expect(r.peakMb).toBeLessThan(PEAK_RSS_MB)
  }, 180_000)
})
