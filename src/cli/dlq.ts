import { readFileSync, writeFileSync } from 'node:fs'
import { FundwatchError } from '../errors.ts'
import type { Source } from '../pipeline/types.ts'
import { deadLetterCounts, getDeadLetter, listDeadLetters, type DeadLetterFilter } from '../store/dead-letters.ts'
import { parseWhen } from './audit.ts'
import { appFromFlags, type CommonFlags } from './common.ts'

export type DlqFlags = CommonFlags & { from?: string; to?: string; reason?: string; limit?: string; out?: string; file?: string }

function filter(f: DlqFlags): DeadLetterFilter {
  return { from: f.from ? parseWhen(f.from, false) : undefined, to: f.to ? parseWhen(f.to, true) : undefined, reason: f.reason }
}

/**
 * `fundwatch dlq list|show|export|resubmit`: the records the pipeline refused,
 * read from the dead_letters table. An operator with shell access to the store
 * sees the raw bytes as they arrived (personal data included, as in the store).
 */
export async function dlqCommand(f: DlqFlags, [sub, id]: string[]): Promise<number> {
  const limit = f.limit === undefined ? 20 : Number(f.limit)
  if (!(Number.isInteger(limit) && limit > 0 && limit <= 100_000)) throw new FundwatchError('BAD_REQUEST', `--limit must be an integer from 1 to 100000 (got ${f.limit})`)
  if ((sub === 'show' || sub === 'resubmit') && !id) throw new FundwatchError('BAD_REQUEST', `dlq ${sub} needs the dlq_id (fundwatch dlq list shows them)`)
  if ((sub === 'list' || sub === 'export') && id !== undefined) throw new FundwatchError('BAD_REQUEST', `unexpected argument "${id}"`)
  if (sub === 'resubmit' && !f.file) throw new FundwatchError('BAD_REQUEST', 'dlq resubmit needs --file <corrected.json>')
  const window = filter(f)
  const corrected = sub === 'resubmit' ? readCorrected(f.file!) : undefined
  const app = await appFromFlags(f, { logLevel: process.env.LOG_LEVEL ?? 'warn' })
  try {
    if (sub === 'list') {
      const counts = await deadLetterCounts(app.store, window)
      const total = counts.reduce((a, c) => a + c.count, 0)
      console.log(`${total.toLocaleString('en-US')} dead letters${f.reason ? ` with reason ${f.reason}` : ''}${f.from || f.to ? ` received ${f.from ?? '…'} .. ${f.to ?? '…'}` : ''}`)
      if (total) {
        console.log('\nper day (China time) and reason:')
        for (const c of counts) console.log(`  ${c.day}  ${String(c.count).padStart(8)}  ${c.reason}`)
        const latest = await listDeadLetters(app.store, { ...window, limit })
        console.log(`\nlatest ${latest.length} (fundwatch dlq show <dlq_id> for one):`)
        for (const d of latest) console.log(`  ${d.dlq_id}  ${d.received_at}  ${d.reason.padEnd(40)}  ${d.source}`)
      }
      return 0
    }
    if (sub === 'export') {
      const all = await listDeadLetters(app.store, { ...window, limit: f.limit === undefined ? 100_000 : limit })
      const text = all.map((d) => JSON.stringify(d)).join('\n') + (all.length ? '\n' : '')
      if (f.out) {
        writeFileSync(f.out, text)
        console.error(`wrote ${all.length} dead letters to ${f.out} (JSON lines)`)
      } else process.stdout.write(text)
      return 0
    }
    const d = await getDeadLetter(app.store, id!)
    if (!d) throw new FundwatchError('NOT_FOUND', `no dead letter ${id} (fundwatch dlq list shows them)`)
    if (sub === 'show') {
      console.log([
        `dlq_id       ${d.dlq_id}`,
        `reason       ${d.reason}`,
        `received_at  ${d.received_at}`,
        `source       ${d.source}`,
        'problems:', ...d.detail.split('\n').map((l) => `  ${l}`),
        `raw bytes (${Buffer.from(d.raw_base64, 'base64').length}${d.raw_text === undefined ? ', not UTF-8, base64' : ''}):`,
        d.raw_text ?? d.raw_base64,
      ].join('\n'))
      return 0
    }
    // resubmit: the corrected record takes the same path as any other (decode, admission, detectors, store).
    const source: Source = { name: 'resubmit', async *batches() { yield { records: [{ value: corrected!, pos: `resubmit:${d.dlq_id}`, owner: 'resubmit' }] } } }
    let again: string | undefined
    const r = await app.pipeline().run(source, new AbortController().signal, (p) => { again ??= p.deadLetters[0]?.dlq_id })
    if (r.rejected) throw new FundwatchError('CONFLICT', `the corrected record was refused too: ${Object.keys(r.rejectedByReason).join(', ')} (fundwatch dlq show ${again}); ${d.dlq_id} stays as it was`)
    console.log(`resubmitted ${d.dlq_id}: the corrected record was stored (${r.events} event, ${r.alerts} alerts); the dead letter stays on record with its original bytes`)
    return 0
  } finally {
    await app.close()
  }
}

function readCorrected(file: string): Buffer {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (cause) {
    throw new FundwatchError('NOT_FOUND', `cannot read ${file} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause })
  }
  // One record: a JSON object, possibly pretty-printed; compacted so it is one record as on the wire.
  try {
    return Buffer.from(JSON.stringify(JSON.parse(bytes.toString('utf8'))))
  } catch {
    throw new FundwatchError('BAD_REQUEST', `${file} is not one JSON record`)
  }
}
