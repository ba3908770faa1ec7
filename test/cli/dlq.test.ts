import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cli } from '../../src/cli/commands.ts'
import { removeDir, testApp } from '../helpers/app.ts'
import { mutate } from '../helpers/malformed.ts'
import { captureCli } from '../helpers/cli.ts'

/**
 * Bad input through `fundwatch replay` as an operator meets it: the summary
 * says where the rejected records went, and `fundwatch dlq` finds them — counts,
 * one record with its raw bytes and every problem, an export, a re-submission.
 */
const dir = mkdtempSync(join(tmpdir(), 'fw-dlq-'))
const database = `dlq_${process.pid}`
const io = captureCli({ FUNDWATCH_DATA_DIR: join(dir, 'data'), FUNDWATCH_DB: database, CLICKHOUSE_URL: process.env.CLICKHOUSE_URL ?? '' })
afterAll(() => removeDir(dir))

// psn_no a number and begntime not a time: two problems in one record.
const twoProblems = mutate('visit.opened', (e) => { e.event_id = 'dlq-visit-1'; e.payload.psn_no = 12345; e.payload.begntime = 'yesterday' })
const corrected = mutate('visit.opened', (e) => { e.event_id = 'dlq-visit-1' })

describe('fundwatch dlq', () => {
  let id = ''
  it('replay says where the rejected records went and counts blank lines', async () => {
    // The sample knowledge base must know the example's institution for admission: use the example's own.
    const file = join(dir, 'in.jsonl')
    writeFileSync(file, ['{not json', 'null', '', '   ', twoProblems.toString()].join('\n') + '\n')
    expect(await cli(['replay', file])).toBe(0)
    const text = io.out.join('\n')
    expect(text).toMatch(/rejected +3 +not_json=1 not_object=1 schema\.invalid_type@payload\.psn_no=1/)
    expect(text).toMatch(/stored with their reason and raw bytes in the dead_letters table of chDB .* \(database dlq_\d+\): fundwatch dlq list/)
    expect(text).toMatch(/blank lines 2 +\(skipped/)
  })

  it('list: counts per day and reason, and the latest records', async () => {
    expect(await cli(['dlq', 'list'])).toBe(0)
    const text = io.out.join('\n')
    expect(text).toMatch(/^3 dead letters/)
    expect(text).toMatch(/^ {2}\d{4}-\d{2}-\d{2} +1 +not_object$/m)
    id = /^ {2}([0-9a-f]{32}) +\S+ +schema\.invalid_type@payload\.psn_no/m.exec(text)![1]!
    expect(await cli(['dlq', 'list', '--reason', 'not_json'])).toBe(0)
    expect(io.out.at(-1)).toMatch(/not_json/)
    expect(io.out.join('\n')).toMatch(/^1 dead letters with reason not_json/m)
  })

  it('show: the reason, every validation problem and the raw bytes', async () => {
    expect(await cli(['dlq', 'show', id])).toBe(0)
    const text = io.out.join('\n')
    expect(text).toMatch(/reason +schema\.invalid_type@payload\.psn_no/)
    expect(text).toMatch(/problems:\n {2}payload\.psn_no: .*\n {2}payload\.begntime: /)
    expect(text).toContain(twoProblems.toString())
    expect(await cli(['dlq', 'show', 'no-such-id'])).toBe(1)
    expect(io.err.at(-1)).toMatch(/^fundwatch dlq: no dead letter no-such-id/)
  })

  it('export: JSON lines with the raw bytes', async () => {
    const file = join(dir, 'dlq.jsonl')
    expect(await cli(['dlq', 'export', '--out', file])).toBe(0)
    const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { dlq_id: string; reason: string; raw_base64: string })
    expect(rows.map((r) => r.reason).sort()).toEqual(['not_json', 'not_object', 'schema.invalid_type@payload.psn_no'])
    expect(Buffer.from(rows.find((r) => r.dlq_id === id)!.raw_base64, 'base64')).toEqual(twoProblems)
  })

  it('resubmit: a corrected record goes through the pipeline; one refused again says why and exits 1', async () => {
    const bad = join(dir, 'still-bad.json')
    writeFileSync(bad, twoProblems)
    expect(await cli(['dlq', 'resubmit', id, '--file', bad])).toBe(1)
    expect(io.err.at(-1)).toMatch(/refused too: schema\.invalid_type@payload\.psn_no \(fundwatch dlq show \S+\); .* stays as it was/)
    const good = join(dir, 'corrected.json')
    writeFileSync(good, JSON.stringify(JSON.parse(corrected.toString()), null, 2))
    expect(await cli(['dlq', 'resubmit', id, '--file', good])).toBe(0)
    expect(io.out.at(-1)).toMatch(new RegExp(`^resubmitted ${id}: the corrected record was stored \\(1 event`))
    const app = await testApp({ dataDir: join(dir, 'data'), database })
    try {
      const [row] = await app.store.query<{ source: string }>(`SELECT source_pos AS source FROM ${app.store.t('events')} FINAL WHERE event_id = 'dlq-visit-1'`)
      expect(row?.source).toBe(`resubmit:${id}`)
    } finally {
      await app.close()
    }
  })
})
