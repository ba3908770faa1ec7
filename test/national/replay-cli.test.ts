import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cli } from '../../src/cli/commands.ts'
import { writeKnowledgeBase } from '../../src/kb/loader.ts'
import { removeDir } from '../helpers/app.ts'
import { captureCli } from '../helpers/cli.ts'
import { institution, makeKb } from '../helpers/detect.ts'
import { FIXTURES, fixture, line } from './helpers.ts'

/** `fundwatch replay --format national` on a file of logged transactions, as an operator runs it. */
const dir = mkdtempSync(join(tmpdir(), 'fw-national-cli-'))
const io = captureCli({ FUNDWATCH_DATA_DIR: join(dir, 'data'), FUNDWATCH_DB: `national_cli_${process.pid}`, CLICKHOUSE_URL: process.env.CLICKHOUSE_URL ?? '' })
afterAll(() => removeDir(dir))

describe('fundwatch replay --format national', () => {
  it('reads one transaction a line: events stored, pre-settlements and failed ones ignored, a broken one dead-lettered', async () => {
    const kbDir = join(dir, 'kb')
    await writeKnowledgeBase(kbDir, makeKb({ institutions: [institution('H37070200001'), institution('P37070200017', { level: 0 })] }).data)
    const failed = fixture('samples/2207')
    failed.response.infcode = -1
    const broken = fixture('samples/2204')
    delete broken.request.input.feedetail[0].det_item_fee_sumamt
    const file = join(dir, 'transactions.jsonl')
    const sample = (n: string) => line(JSON.parse(readFileSync(join(FIXTURES, 'samples', `${n}.json`), 'utf8')))
    writeFileSync(file, [sample('2201'), sample('2203'), sample('2204'), sample('2206'), line(failed), line(broken), sample('2301'), ''].join('\n'))
    expect(await cli(['replay', file, '--format', 'national', '--kb', kbDir])).toBe(0)
    const text = io.out.join('\n')
    expect(text).toMatch(/records +7\b/)
    expect(text).toMatch(/events +5\b/)
    expect(text).toMatch(/rejected +1 +national\.missing@2204\.feedetail\.det_item_fee_sumamt=1/)
    expect(text).toMatch(/ignored +2 +\(national transactions that are not facts/)
  })

  it('the same file read as contract events is refused line by line (the format is the operator\'s to say)', async () => {
    const file = join(dir, 'transactions.jsonl')
    expect(await cli(['replay', file, '--kb', join(dir, 'kb')])).toBe(0)
    expect(io.out.join('\n')).toMatch(/rejected +7 +missing_event_type=7/)
  })

  it('refuses an unknown format as a usage error', async () => {
    expect(await cli(['replay', join(dir, 'transactions.jsonl'), '--format', 'hl7'])).toBe(2)
    expect(io.err.at(-1)).toMatch(/--format must be contract or national \(got hl7\)/)
  })
})
