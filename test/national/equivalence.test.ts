import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { replayDataset } from '../../src/cli/evaluate.ts'
import { writeDataset } from '../../src/generator/generate.ts'
import { loadKnowledgeBase } from '../../src/kb/loader.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

/**
 * The adapter loses nothing (issue 10): one generated, labelled dataset written
 * as contract events and as the national platform's transactions, replayed
 * into two stores, stores the same facts and raises the same alerts, with the
 * same ids. What may differ is only what says how the record arrived: its raw
 * text (and the hash and position derived from it) and the wall-clock times of
 * ingestion and detection.
 */
const HOW_IT_ARRIVED: Record<string, string[]> = {
  events: ['raw', 'source_pos', 'ingested_at'],
  alerts: ['detected_at', 'revised_at'],
  alert_revisions: ['revised_at'],
  data_quality: ['detected_at'],
}
const FACTS = ['events', 'visits', 'visit_updates', 'visit_cancellations', 'discharges', 'fee_lines', 'fee_reversals', 'settlements', 'settlement_reversals', 'inventory_movements', 'alerts', 'alert_revisions', 'data_quality'] as const

const apps: TestApp[] = []
afterAll(async () => { for (const a of apps) await a.close() })

async function rows(app: TestApp, table: string): Promise<string[]> {
  const except = HOW_IT_ARRIVED[table]
  const r = await app.store.query<Record<string, unknown>>(`SELECT * ${except ? `EXCEPT (${except.join(', ')})` : ''} FROM ${app.store.t(table)} FINAL ORDER BY ALL`)
  return r.map((x) => JSON.stringify(x))
}

describe('national transactions and contract events of one dataset', () => {
  it('store the same events and typed rows and raise the same alerts, with the same ids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-equiv-'))
    const opts = { seed: 20261206, persons: 700, days: 45, fraudRate: 0.04, kb: sampleKnowledgeBase() }
    const contract = await writeDataset(join(dir, 'contract'), opts)
    const national = await writeDataset(join(dir, 'national'), opts, { format: 'national' })
    expect(national.counts).toEqual(contract.counts)

    const kb = await loadKnowledgeBase(contract.kbDir)
    const dataDir = mkdtempSync(join(tmpdir(), 'fw-equiv-db-'))
    const a = await testApp({ kb, dataDir, database: `eq_c_${process.pid}` })
    apps.push(a)
    const b = await testApp({ kb, dataDir, database: `eq_n_${process.pid}` })
    apps.push(b)
    const ra = await replayDataset(a, contract.eventsFile, 'contract')
    const rb = await replayDataset(b, national.eventsFile, 'national')
    console.log(`contract: ${ra.events} events, ${ra.feeLines} fee lines, ${ra.alerts} alert rows; national: ${rb.events} events, ${rb.feeLines} fee lines, ${rb.alerts} alert rows, ${rb.ignored ?? 0} ignored`)

    expect(ra.rejected, 'contract dead letters').toBe(0)
    expect(rb.rejected, `national dead letters: ${JSON.stringify(rb.rejectedByReason)}`).toBe(0)
    expect(ra.feeLines).toBeGreaterThan(5_000)
    expect([rb.events, rb.feeLines]).toEqual([ra.events, ra.feeLines])
    for (const t of FACTS) {
      const [x, y] = [await rows(a, t), await rows(b, t)]
      expect(y.length, `${t}: rows`).toBe(x.length)
      expect(y.filter((r) => !new Set(x).has(r)).slice(0, 3), `${t}: national rows the contract replay does not have`).toEqual([])
    }
    // Not an empty comparison: the dataset raised alerts of several detectors, some revised.
    const [alerts] = await a.store.query<{ n: string; detectors: string; revised: string }>(
      `SELECT count() AS n, uniqExact(detector_id) AS detectors, countIf(revision > 1) AS revised FROM ${a.store.t('alerts')} FINAL`)
    expect(Number(alerts!.n)).toBeGreaterThan(50)
    expect(Number(alerts!.detectors)).toBeGreaterThan(8)
    expect(Number(alerts!.revised)).toBeGreaterThan(0)
  }, 600_000)
})
