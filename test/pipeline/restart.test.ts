import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { writeKnowledgeBase } from '../../src/kb/loader.ts'
import { HOSPITAL, feeUploaded, institution, item, makeKb, settlementCompleted, visitClosed, visitOpened } from '../helpers/detect.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const run = promisify(execFile)
const root = join(import.meta.dirname, '../..')
const kb = makeKb({ institutions: [institution(HOSPITAL, { level: 3 })], catalog: [item('SVC-1'), item('DRUG-1', { list_type: 'drug', med_chrgitm_type: '09' })] })
const t = (d: number, h = 9) => `2026-03-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00+08:00`

/** One person's first stay: admitted on the 2nd, discharged on the 6th, settled. */
function firstStay(psn: string): AnyEvent[] {
  return [
    visitOpened({ event_id: `${psn}-o1`, psn_no: psn, mdtrt_id: `${psn}-A`, begntime: t(2), diagnoses: [{ diag_code: 'J18.900' }] }),
    feeUploaded({ event_id: `${psn}-f1`, psn_no: psn, mdtrt_id: `${psn}-A`, lines: [{ feedetl_sn: `${psn}-L1`, fee_ocur_time: t(3), med_list_codg: 'SVC-1' }] }),
    visitClosed({ event_id: `${psn}-c1`, psn_no: psn, mdtrt_id: `${psn}-A`, endtime: t(6), dscg_maindiag_code: 'J18.900' }),
    settlementCompleted({ event_id: `${psn}-s1`, psn_no: psn, mdtrt_id: `${psn}-A`, setl_id: `${psn}-S1`, setl_time: t(6, 10) }),
  ]
}
/** The readmission 6 days later with a principal diagnosis of the same category: split hospitalization. */
function readmission(psn: string): AnyEvent[] {
  return [
    visitOpened({ event_id: `${psn}-o2`, psn_no: psn, mdtrt_id: `${psn}-B`, begntime: t(12), diagnoses: [{ diag_code: 'J18.000' }] }),
    feeUploaded({ event_id: `${psn}-f2`, psn_no: psn, mdtrt_id: `${psn}-B`, lines: [{ feedetl_sn: `${psn}-L2`, fee_ocur_time: t(13), med_list_codg: 'DRUG-1', list_type: 'drug', med_chrgitm_type: '09' }] }),
    visitClosed({ event_id: `${psn}-c2`, psn_no: psn, mdtrt_id: `${psn}-B`, endtime: t(16), dscg_maindiag_code: 'J18.000' }),
    settlementCompleted({ event_id: `${psn}-s2`, psn_no: psn, mdtrt_id: `${psn}-B`, setl_id: `${psn}-S2`, setl_time: t(16, 10) }),
  ]
}

const dir = mkdtempSync(join(tmpdir(), 'fw-restart-'))
const dataDir = join(dir, 'data')
let app: TestApp | undefined
afterAll(async () => app?.close())

function replayInNewProcess(file: string) {
  return run(process.execPath, [join(root, 'bin/fundwatch.mjs'), 'replay', file, '--kb', join(dir, 'kb'), '--data-dir', dataDir, '--batch-size', '3'], {
    cwd: root, env: { ...process.env, FUNDWATCH_DB: 'restart', LOG_LEVEL: 'warn', CLICKHOUSE_URL: '' }, timeout: 120_000,
  })
}

describe('restart: a new process on the same data directory', () => {
  it('catches a split hospitalization spanning the restart and duplicates no row', async () => {
    await writeKnowledgeBase(join(dir, 'kb'), kb.data, 'jsonl')
    const persons = ['PSNRESTART01', 'PSNRESTART02', 'PSNRESTART03']
    const part1 = persons.flatMap(firstStay)
    const part2 = persons.flatMap(readmission)
    // The second half starts with the tail of the first again, as Kafka would redeliver an uncommitted batch.
    const overlap = part1.slice(-3)
    writeFileSync(join(dir, 'part1.jsonl'), part1.map((e) => JSON.stringify(e)).join('\n') + '\n')
    writeFileSync(join(dir, 'part2.jsonl'), [...overlap, ...part2].map((e) => JSON.stringify(e)).join('\n') + '\n')

    const first = await replayInNewProcess(join(dir, 'part1.jsonl'))
    expect(first.stdout).toMatch(/alerts\s+0\b/)
    const second = await replayInNewProcess(join(dir, 'part2.jsonl'))
    expect(second.stdout).toMatch(/split-hospitalization\s+3\b/)

    app = await testApp({ dataDir, database: 'restart', kb })
    const s = app.store
    for (const table of ['events', 'visits', 'fee_lines', 'settlements', 'alerts']) await s.command(`OPTIMIZE TABLE ${s.t(table)} FINAL`)
    const q = async (sql: string) => (await s.query<Record<string, string>>(sql))[0]!
    const ev = await q(`SELECT count() AS n, uniqExact(event_id) AS u FROM ${s.t('events')}`)
    expect(Number(ev.n)).toBe(part1.length + part2.length)
    expect(Number(ev.u)).toBe(part1.length + part2.length)
    const al = await q(`SELECT count() AS n, uniqExact(alert_id) AS u FROM ${s.t('alerts')}`)
    expect(Number(al.n)).toBe(Number(al.u))
    const split = await s.query<{ psn_no: string; mdtrt_ids: string[] }>(`SELECT psn_no, mdtrt_ids FROM ${s.t('alerts')} WHERE detector_id = 'split-hospitalization' ORDER BY psn_no`)
    expect(split.map((a) => [a.psn_no, [...a.mdtrt_ids].sort()])).toEqual(persons.map((p) => [p, [`${p}-A`, `${p}-B`]]))
  }, 180_000)
})
