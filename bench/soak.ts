import { spawn } from 'node:child_process'
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { malformedSamples } from '../src/generator/malformed.ts'
import { fen, yuan } from '../src/util/money.ts'
import { ROOT, dataset, rate, type Figure } from './common.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed event line, read field by field
type Loose = any

/** Peak resident memory the soak must stay under, for the processor replaying ≥ 1M fee lines with poison mixed in. */
export const SOAK_RSS_BOUND_MB = 3072
/** One poison record after this many valid ones: 1 %. */
const EVERY = 99

export interface SoakReport {
  valid: number
  poison: number
  storedEvents: number
  distinctStoredIds: number
  missing: number
  deadLetters: number
  deadLetterRows: number
  poisonByReason: Record<string, number>
  feeLines: number
  ms: number
  maxRssMb: number
}

/**
 * Issue 8's soak: the processor replays the bench dataset with 1 % poison
 * records of every kind mixed in (src/generator/malformed.ts: every way a
 * producer gets an event wrong, plus records that are well-formed but may not
 * be applied), in a child process whose peak RSS is read at its end. Every
 * valid event must be stored once and every poison record dead-lettered once.
 */
export async function benchSoak(feeLines: number): Promise<{ figures: Figure[]; raw: Record<string, number> }> {
  const ds = await dataset(feeLines)
  const dir = mkdtempSync(join(tmpdir(), 'fw-soak-'))
  const file = join(dir, 'mixed.jsonl')
  // A JSON-lines file cannot carry an empty record or one with a newline in it (the Kafka poison test sends those).
  const poison = malformedSamples().filter((p) => p.bytes.length > 0 && !p.bytes.includes(0x0a))
  const out = createWriteStream(file)
  let valid = 0
  let bad = 0
  // Records that are well-formed but may not be applied, made from the traffic around them.
  const institutions = new Set<string>()
  let lastFee: Loose
  const contextual: ((n: number) => string | undefined)[] = [
    // The same event_id as a stored event, other content: the first stands.
    () => lastFee && JSON.stringify({ ...lastFee, payload: { ...lastFee.payload, lines: lastFee.payload.lines.slice(0, 1).map((l: Loose) => ({ ...l, cnt: '50', det_item_fee_sumamt: yuan(fen(l.pric) * 50n) })) } }),
    // Lines for another institution's visit.
    (n) => {
      const other = lastFee && [...institutions].find((c) => c !== lastFee.source.fixmedins_code)
      return other && JSON.stringify({ ...lastFee, event_id: `soak-foreign-${n}`, source: { fixmedins_code: other } })
    },
    // A sender no knowledge base knows.
    (n) => lastFee && JSON.stringify({ ...lastFee, event_id: `soak-unknown-${n}`, source: { fixmedins_code: 'H99999999999' } }),
  ]
  for await (const line of createInterface({ input: createReadStream(ds.eventsFile), crlfDelay: Infinity })) {
    if (!line) continue
    out.write(line + '\n')
    if (line.includes('"fee.uploaded"')) {
      lastFee = JSON.parse(line)
      institutions.add(lastFee.source.fixmedins_code)
    }
    if (++valid % EVERY === 0) {
      const k = bad % (poison.length + contextual.length)
      const made = k < poison.length ? undefined : contextual[k - poison.length]!(bad)
      const record = k < poison.length ? poison[k]!.bytes : made === undefined ? undefined : Buffer.from(made)
      if (record === undefined) continue
      out.write(Buffer.concat([record, Buffer.from('\n')]))
      bad++
    }
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())))

  const report = await new Promise<SoakReport>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'soak-child.ts'), file, ds.kbDir, join(dir, 'data')], { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.on('data', (b: Buffer) => { text += b.toString() })
    child.on('error', reject)
    child.on('exit', (code) => {
      const last = text.trim().split('\n').at(-1) ?? ''
      if (code !== 0) return reject(new Error(`soak child exited ${code}: ${last}`))
      resolve(JSON.parse(last) as SoakReport)
    })
  })
  rmSync(dir, { recursive: true, force: true })

  const allValidOnce = report.storedEvents === valid && report.distinctStoredIds === valid && report.missing === 0
  const allPoisonOnce = report.deadLetters === bad && report.deadLetterRows === bad
  const figures: Figure[] = [
    { name: 'soak: fee lines', value: report.feeLines, unit: 'lines' },
    { name: 'soak: valid events / stored once', value: report.storedEvents, unit: `of ${valid.toLocaleString('en-US')}`, goal: 'all, once', met: allValidOnce },
    { name: 'soak: poison records / dead-lettered once', value: report.deadLetters, unit: `of ${bad.toLocaleString('en-US')}`, goal: 'all, once', met: allPoisonOnce },
    { name: 'soak: poison kinds', value: poison.length + contextual.length, unit: 'kinds' },
    { name: 'soak: distinct reasons', value: Object.keys(report.poisonByReason).length, unit: 'reasons' },
    { name: 'soak: throughput', value: rate(report.feeLines, report.ms), unit: 'lines/s' },
    { name: 'soak: peak RSS', value: report.maxRssMb, unit: 'MB', goal: `< ${SOAK_RSS_BOUND_MB}`, met: report.maxRssMb < SOAK_RSS_BOUND_MB },
  ]
  return { figures, raw: { valid, poison: bad, storedEvents: report.storedEvents, deadLetters: report.deadLetters, maxRssMb: report.maxRssMb, ms: report.ms } }
}
