import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { auditWindow, parseWhen } from '../../src/cli/audit.ts'
import { cli } from '../../src/cli/commands.ts'
import { writeKnowledgeBase } from '../../src/kb/loader.ts'
import { removeDir, testApp } from '../helpers/app.ts'
import { institution, item, makeKb } from '../helpers/detect.ts'
import { ms, storeEvents, visitEvents } from './helpers.ts'

describe('audit window flags', () => {
  it('reads China days (the end day inclusive) and RFC 3339 instants', () => {
    expect(parseWhen('2026-01-01', false)).toBe(Date.parse('2026-01-01T00:00:00+08:00'))
    expect(parseWhen('2026-01-31', true)).toBe(Date.parse('2026-02-01T00:00:00+08:00'))
    expect(parseWhen('2026-01-31T12:00:00+08:00', true)).toBe(Date.parse('2026-01-31T04:00:00Z'))
    expect(() => parseWhen('2026-01-31T12:00:00', false)).toThrow(/offset/)
    expect(() => parseWhen('yesterday', false)).toThrow()
  })

  it('defaults to the 30 China days ending yesterday, and refuses an empty window', () => {
    // 2026-03-10 01:00 China time is still 9 March in UTC.
    const now = Date.parse('2026-03-10T01:00:00+08:00')
    expect(auditWindow({}, now)).toEqual({ from: Date.parse('2026-02-08T00:00:00+08:00'), to: Date.parse('2026-03-10T00:00:00+08:00') })
    expect(auditWindow({ from: '2026-01-01', to: '2026-01-31' })).toEqual({ from: ms('2026-01-01 00:00'), to: ms('2026-02-01 00:00') })
    expect(() => auditWindow({ from: '2026-02-01', to: '2026-01-31' })).toThrow(/before/)
  })
})

// `fundwatch audit` against a data directory written by another app, as an
// operator would run it after a replay: its own process state, its own flags.
const CLINIC = 'H37070500061'
const kbData = makeKb({ institutions: [institution(CLINIC, { kind: 'clinic', level: 1, type: '基层医疗机构', therapists: 1 })], catalog: [item('PT', { therapist_minutes: 40 })] }).data
let dataDir: string
let kbDir: string
let labelsFile: string
const database = `cli_${process.pid}`
beforeAll(async () => {
  const app = await testApp({ kb: makeKb(), database })
  dataDir = app.dataDir
  const rehab = Array.from({ length: 13 }, (_, k) => visitEvents({ fixmedins_code: CLINIC, begntime: `2026-01-10 ${String(8 + k).padStart(2, '0')}:00`, lines: [{ med_list_codg: 'PT', pric: '60.00' }] }))
  await storeEvents(app.store, rehab.flatMap((v) => v.events))
  await app.close()
  const dir = mkdtempSync(join(tmpdir(), 'fw-audit-cli-'))
  kbDir = join(dir, 'kb')
  await writeKnowledgeBase(kbDir, kbData, 'jsonl')
  labelsFile = join(dir, 'labels.jsonl')
  writeFileSync(labelsFile, JSON.stringify({ pattern: 'capacity-exceeded', fixmedins_code: CLINIC, refs: { mdtrt_ids: [], feedetl_sns: [], setl_ids: [] }, note: 'test' }) + '\n')
})
afterAll(() => {
  if (dataDir) removeDir(dataDir)
})

describe('fundwatch audit', () => {
  it('audits the window, stores the alerts, and scores them against labels', async () => {
    const out: string[] = []
    const log = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void out.push(String(s)))
    const env = process.env.FUNDWATCH_DB
    process.env.FUNDWATCH_DB = database
    try {
      const code = await cli(['audit', '--data-dir', dataDir, '--kb', kbDir, '--from', '2026-01-01', '--to', '2026-01-31', '--detector', 'capacity-exceeded', '--labels', labelsFile, '--top', '5', '--json'])
      expect(code).toBe(0)
    } finally {
      log.mockRestore()
      if (env === undefined) delete process.env.FUNDWATCH_DB
      else process.env.FUNDWATCH_DB = env
    }
    const report = JSON.parse(out.join('\n')) as Record<string, unknown>
    expect(report).toMatchObject({
      from: '2026-01-01', to: '2026-01-31', byDetector: { 'capacity-exceeded': 1 }, errors: [], topK: 5,
      scores: { 'capacity-exceeded': { alerts: 1, k: 1, tp: 1, precision: 1, labels: 1, labelsFound: 1 } },
    })
  })

  it('prints its usage on --help and refuses a bad --top', async () => {
    const out: string[] = []
    const log = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void out.push(String(s)))
    try {
      expect(await cli(['audit', '--help'])).toBe(0)
    } finally {
      log.mockRestore()
    }
    expect(out.join('\n')).toMatch(/usage: fundwatch audit/)
    const err: string[] = []
    const error = vi.spyOn(console, 'error').mockImplementation((s: unknown) => void err.push(String(s)))
    try {
      expect(await cli(['audit', '--top', '0', '--from', '2026-01-01', '--to', '2026-01-31'])).toBe(2)
    } finally {
      error.mockRestore()
    }
    expect(err).toEqual(['fundwatch audit: --top must be a positive integer (got 0) (see fundwatch audit --help)'])
  })
})
