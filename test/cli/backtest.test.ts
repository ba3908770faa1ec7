import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BacktestResult } from '../../src/backtest/result.ts'
import { cli } from '../../src/cli/commands.ts'
import { writeDataset, type DatasetResult } from '../../src/generator/generate.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'
import { removeDir } from '../helpers/app.ts'
import { captureCli } from '../helpers/cli.ts'

/**
 * `fundwatch backtest` as a rule analyst runs it: a generated history
 * replayed into the store, then a candidate that switches a detector off,
 * as a table and as JSON, with the dataset's labels; an invalid candidate
 * refused with its line before the store is opened.
 */
const dir = mkdtempSync(join(tmpdir(), 'fw-backtest-'))
const dataDir = join(dir, 'data')
const io = captureCli({ FUNDWATCH_DATA_DIR: dataDir, FUNDWATCH_DB: `bt_cli_${process.pid}`, CLICKHOUSE_URL: process.env.CLICKHOUSE_URL ?? '' })
let ds: DatasetResult
const candidate = join(dir, 'candidate.yaml')
const bad = join(dir, 'bad.yaml')
afterAll(() => removeDir(dir))
beforeAll(async () => {
  ds = await writeDataset(join(dir, 'ds'), { seed: 7, persons: 300, days: 10, startTime: Date.parse('2026-04-01T00:00:00+08:00'), fraudRate: 0.2, kb: sampleKnowledgeBase() })
  writeFileSync(candidate, 'detectors:\n  duplicate-charge:\n    enabled: false\n')
  writeFileSync(bad, 'detectors:\n  duplicate-charge:\n    params:\n      no_such_param: 1\n')
}, 120_000)

describe('fundwatch backtest', () => {
  it('refuses an invalid candidate with its line, exit 1, before opening the store', async () => {
    expect(await cli(['backtest', '--rules', bad, '--from', '2026-04-01', '--to', '2026-04-10'])).toBe(1)
    expect(io.err.join('\n')).toMatch(/bad\.yaml:4: detectors\.duplicate-charge\.params/)
    expect(existsSync(dataDir)).toBe(false)
    // A missing flag is a usage error.
    expect(await cli(['backtest', '--from', '2026-04-01', '--to', '2026-04-10'])).toBe(2)
    expect(io.err.join('\n')).toMatch(/--rules <candidate\.yaml> is required/)
  })

  it('prints per detector what the candidate would change, as a table and as JSON', async () => {
    expect(await cli(['replay', ds.eventsFile, '--kb', ds.kbDir])).toBe(0)
    io.out.length = 0
    expect(await cli(['backtest', '--rules', candidate, '--from', '2026-03-25', '--to', '2026-04-20', '--kb', ds.kbDir, '--labels', ds.labelsFile])).toBe(0)
    const table = io.out.join('\n')
    expect(table).toMatch(/^backtest 2026-03-25T00:00:00\+08:00 \.\. 2026-04-21T00:00:00\+08:00: [\d,]+ events, [\d,]+ fee lines/)
    expect(table).toMatch(/^duplicate-charge +on→off +[\d,]+ → 0 /m)
    expect(table).toMatch(/^duplicate-charge:\n {2}removed [\d,]+ \(¥[\d.]+\), largest first:/m)
    io.out.length = 0
    expect(await cli(['backtest', '--rules', candidate, '--from', '2026-03-25', '--to', '2026-04-20', '--kb', ds.kbDir, '--labels', ds.labelsFile, '--json'])).toBe(0)
    const r = JSON.parse(io.out.join('\n')) as BacktestResult
    expect(r.labelled).toBe(true)
    const dup = r.detectors.find((d) => d.detector === 'duplicate-charge')!
    expect(dup.baseline.alerts).toBeGreaterThan(0)
    expect(dup).toMatchObject({ candidate_mode: 'off', candidate: { alerts: 0 }, removed: { count: dup.baseline.alerts }, labels: { candidate: { precision: null, recall: 0 } } })
    expect(dup.labels!.baseline.recall).toBeGreaterThan(0)
  })
})
