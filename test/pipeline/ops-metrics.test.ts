import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { FundwatchError } from '../../src/errors.ts'
import { memorySource } from '../../src/pipeline/sources.ts'
import { HOSPITAL, feeUploaded, institution, makeKb, visitOpened } from '../helpers/detect.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'

const kb = makeKb({ institutions: [institution(HOSPITAL, { level: 2 })] })
const t = (d: number, h: number) => `2026-03-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00+08:00`
const events: AnyEvent[] = [
  visitOpened({ event_id: 'o-open-1', mdtrt_id: 'MDT-O1', begntime: t(2, 9), med_type: '11', gend: '1' }),
  feeUploaded({ event_id: 'o-fee-1', mdtrt_id: 'MDT-O1', lines: [{ feedetl_sn: 'OL1', fee_ocur_time: t(2, 10), med_list_codg: 'X' }] }),
]
const records = events.map((ev, i) => ({ value: Buffer.from(JSON.stringify(ev)), key: null, pos: `mem/0/${i}`, owner: 'mem/0' }))

let app: TestApp
beforeAll(async () => {
  app = await testApp({ kb })
})
afterAll(async () => {
  await app.close()
  removeDir(app.dataDir)
})

const value = async (name: string, labels: Record<string, string>) => {
  const m = (await app.metrics.registry.getSingleMetric(name)!.get()).values
  return m.find((v) => (v as { metricName?: string }).metricName === `${name}_count` && Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value
}

describe('pipeline operations metrics', () => {
  it('times a failed ClickHouse write too, so write latency does not go quiet in an outage; records the newest stored event time', async () => {
    // Chdb cannot be taken down for real: the real store's insert is wrapped so its first events insert fails, as a server outage would.
    const realInsert = app.store.insertText.bind(app.store)
    let failed = 0
    app.store.insertText = async (table, ...rest) => {
      if (table === 'ingest' && failed === 0) {
        failed++
        throw new FundwatchError('STORE_INSERT_FAILED', 'injected outage')
      }
      return realInsert(table, ...rest)
    }
    await app.pipeline({ retry: { baseMs: 1, maxMs: 1 } }).run(memorySource([records]), new AbortController().signal)
    expect(failed).toBe(1)
    // One failed and one successful insert of the events (into ingest): both observed.
    expect(await value('fundwatch_sink_write_seconds', { sink: 'clickhouse.ingest' })).toBe(2)

    const newest = (await app.metrics.newestEventTime.get()).values
    const expected = Math.max(...events.map((e) => Date.parse(e.event_time))) / 1000
    expect(newest).toEqual([{ labels: { source: 'claims' }, value: expected }])
  })
})
