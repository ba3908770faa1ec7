import { createReadStream, statSync } from 'node:fs'
import { basename, resolve } from 'node:path'
import type { AnyEvent } from '../../schemas/index.ts'
import { isBlank } from './decode.ts'
import { DEFAULT_BATCH_LINGER_MS, type Source, type SourceBatch, type SourceFormat, type SourceRecord } from './types.ts'

/**
 * JSON-lines file replay (exported history for audits): one record a line, in
 * the given format (contract events unless said otherwise; `national`: one
 * logged transaction a line, docs/national.md). Lines are split on raw
 * bytes, not decoded text, so a line with broken UTF-8 reaches the validator as
 * it was and becomes a dead letter with reason bad_encoding.
 */
export function fileSource(path: string, opts: { batchSize?: number; onProgress?: (bytes: number, total: number) => void; format?: SourceFormat } = {}): Source {
  const batchSize = opts.batchSize ?? 2000
  const name = basename(path)
  // A record's position names the file in full: two exports of the same name
  // are different sources (the dead-letter id derives from the position).
  const where = resolve(path)
  return {
    name: `file:${name}`,
    async *batches(signal) {
      const total = statSync(path).size
      let readBytes = 0
      let lineNo = 0
      let carry: Buffer | undefined
      const records: SourceRecord[] = []
      let blank = 0
      const push = (line: Buffer) => {
        lineNo++
        // Tolerate CRLF files. A blank line — empty or only whitespace — carries
        // no record: skipped and counted, never a dead letter.
        if (isBlank(line)) {
          blank++
          return
        }
        const end = line[line.length - 1] === 0x0d ? line.length - 1 : line.length
        records.push({ value: line.subarray(0, end), pos: `${where}:${lineNo}`, owner: `file:${name}`, ...(opts.format ? { format: opts.format } : {}) })
      }
      const take = (n: number): SourceBatch => {
        const b = { records: records.splice(0, n), blank }
        blank = 0
        return b
      }
      for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        if (signal.aborted) return
        readBytes += chunk.length
        let buf = carry ? Buffer.concat([carry, chunk]) : chunk
        let start = 0
        for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, start)) {
          push(buf.subarray(start, i))
          start = i + 1
        }
        carry = start < buf.length ? Buffer.from(buf.subarray(start)) : undefined
        buf = Buffer.alloc(0)
        while (records.length >= batchSize) yield take(batchSize)
        opts.onProgress?.(readBytes, total)
      }
      if (carry) push(carry)
      if (records.length || blank) yield take(records.length)
      opts.onProgress?.(total, total)
    },
  }
}

/**
 * Generated events (demo, load): serialised to bytes so they take the same
 * decode path as Kafka input. With `ratePerSec` the events are paced, and a
 * batch is handed over when it holds `batchSize` records or its first record
 * has waited `lingerMs`, whichever comes first — as the Kafka source does —
 * so a slow stream makes a few batches a second, not one per event.
 */
export function generatorSource(events: AsyncIterable<AnyEvent> | Iterable<AnyEvent>, opts: { batchSize?: number; ratePerSec?: number; lingerMs?: number } = {}): Source {
  const batchSize = opts.batchSize ?? 500
  const lingerMs = opts.lingerMs ?? DEFAULT_BATCH_LINGER_MS
  return {
    name: 'generator',
    async *batches(signal) {
      let records: SourceRecord[] = []
      let n = 0
      let first = 0
      const started = Date.now()
      for await (const ev of events as AsyncIterable<AnyEvent>) {
        if (signal.aborted) return
        n++
        if (records.length === 0) first = Date.now()
        records.push({ value: Buffer.from(JSON.stringify(ev)), pos: `generator:${ev.event_id}`, owner: 'generator' })
        if (records.length >= batchSize) {
          yield { records }
          records = []
        }
        if (!opts.ratePerSec) continue
        // The next event is due then; if the batch's linger ends first, it goes at the linger's end.
        const due = started + (n / opts.ratePerSec) * 1000
        if (records.length > 0 && due >= first + lingerMs) {
          await sleepUntil(first + lingerMs, signal)
          if (signal.aborted) return
          yield { records }
          records = []
        }
        await sleepUntil(due, signal)
      }
      if (records.length && !signal.aborted) yield { records }
    },
  }
}

function sleepUntil(at: number, signal: AbortSignal): Promise<void> {
  const ms = at - Date.now()
  if (ms <= 0 || signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const t = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/** Fixed records, as a source (tests, the pre-check path). */
export function memorySource(batches: SourceRecord[][]): Source {
  return {
    name: 'memory',
    async *batches() {
      for (const records of batches) yield { records }
    },
  }
}
