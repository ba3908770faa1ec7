import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyRules, followRuleBase } from '../../src/detect/rulebase-store.ts'
import { parseRules } from '../../src/detect/rules-file.ts'
import type { Source, SourceRecord } from '../../src/pipeline/types.ts'
import { claimStream, deliveryKb } from '../helpers/claims.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const RULES_A = `# 规则库 v1
detectors:
  split-hospitalization:
    params:
      window_days: 15
`
const RULES_B = RULES_A.replace('window_days: 15', 'window_days: 20')
const by = (who: string) => ({ by: who, source: 'test', reason: 'reload test' })

let app: TestApp
beforeAll(async () => {
  app = await testApp({ kb: deliveryKb })
  await applyRules(app, RULES_A, by('test'))
})
afterAll(async () => app?.close())

describe('rule base as configuration', () => {
  it('refuses an invalid rule base with the line of the fault, and keeps the rules in force', async () => {
    const before = app.engine()
    const bad = RULES_A.replace('window_days: 15', 'window_days: "fifteen"')
    await expect(applyRules(app, bad, by('test'))).rejects.toThrow(/rules:5: .*window_days/)
    await expect(applyRules(app, 'detectors:\n  nonexistent-rule: {}\n', by('test'))).rejects.toThrow(/unknown detector "nonexistent-rule"/)
    await expect(applyRules(app, 'detectors: [\n  oops', by('test'))).rejects.toThrow(/rules:\d+:\d+:/)
    expect(() => parseRules('detectors:\n  split-hospitalization:\n    paramz: {}\n', app.registry)).toThrow(/rules:3: .*paramz/)
    expect(app.engine()).toBe(before)
  })

  it('reloads mid-stream: alerts before and after carry the two parameter hashes; no event lost or processed twice', async () => {
    // Two cohorts, each complete on its side of the reload, so both parameter versions find something.
    const early = claimStream({ persons: 200, visitsPerPerson: 1, linesPerVisit: 2, splitEvery: 10, tag: 'RLA' })
    const late = claimStream({ persons: 200, visitsPerPerson: 1, linesPerVisit: 2, splitEvery: 10, tag: 'RLB' })
    const events = [...early.events, ...late.events]
    const splitPairs = [...early.splitPairs, ...late.splitPairs]
    const batches: SourceRecord[][] = []
    const toBatches = (evs: typeof events, tag: string) => {
      for (let i = 0; i < evs.length; i += 150) batches.push(evs.slice(i, i + 150).map((e, j) => ({ value: Buffer.from(JSON.stringify(e)), pos: `reload:${tag}:${i + j}`, owner: 'reload' })))
    }
    toBatches(early.events, 'a')
    const half = batches.length
    toBatches(late.events, 'b')
    let reloaded: { hash: string; detectors: { id: string; params_hash: string }[] } | undefined
    const source: Source = {
      name: 'reload',
      async *batches() {
        for (let b = 0; b < batches.length; b++) {
          // Between two batches, as an operator's edit would land.
          if (b === half) reloaded = await applyRules(app, RULES_B, by('test:mid-stream'))
          yield { records: batches[b]! }
        }
      },
    }
    const hashA = app.engine().active.find((a) => a.detector.id === 'split-hospitalization')!.paramsHash
    const sum = await app.pipeline().run(source, new AbortController().signal)
    const hashB = reloaded!.detectors.find((d) => d.id === 'split-hospitalization')!.params_hash
    expect(hashB).not.toBe(hashA)

    const byHash = await app.store.query<{ params_hash: string; cohort: string; n: string }>(`SELECT params_hash, substring(psn_no, 1, 6) AS cohort, count() AS n FROM ${app.store.t('alerts')} FINAL WHERE detector_id = 'split-hospitalization' GROUP BY params_hash, cohort ORDER BY cohort`)
    expect(byHash.map((r) => [r.cohort, r.params_hash, Number(r.n)])).toEqual([['PSNRLA', hashA, early.splitPairs.length], ['PSNRLB', hashB, late.splitPairs.length]])
    expect(early.splitPairs.length + late.splitPairs.length).toBe(splitPairs.length)
    expect(sum.events).toBe(events.length)
    const stored = await app.store.query<{ c: string; u: string }>(`SELECT count() AS c, uniqExact(event_id) AS u FROM ${app.store.t('events')} FINAL WHERE event_id LIKE 'PSNRL%'`)
    expect(Number(stored[0]!.c)).toBe(events.length)
    expect(Number(stored[0]!.u)).toBe(events.length)
    const processed = (await app.metrics.eventsIn.get()).values.reduce((s, v) => s + v.value, 0)
    expect(processed).toBe(events.length)
    const changes = await app.store.query<{ by: string; text: string; detectors: string[] }>(`SELECT by, text, detectors FROM ${app.store.t('rulebase_changes')} ORDER BY at`)
    expect(changes.map((c) => c.by)).toEqual(['test', 'test:mid-stream'])
    expect(changes[1]!.text).toBe(RULES_B)
    expect(changes[1]!.detectors).toContain(`split-hospitalization@${hashB}`)
  })

  it('applies a change to the rules file by itself', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fw-rules-')), 'rules.yaml')
    writeFileSync(file, RULES_A)
    await applyRules(app, RULES_A, by('test'))
    const stop = followRuleBase(app, { pollMs: 60_000, rulesFile: file, fileIntervalMs: 50 })
    try {
      const before = app.engine()
      // The watcher takes its baseline stat asynchronously; an edit before that is its baseline.
      await new Promise((r) => setTimeout(r, 300))
      writeFileSync(file, RULES_A.replace('window_days: 15', 'window_days: 30'))
      for (let i = 0; i < 100 && app.engine() === before; i++) await new Promise((r) => setTimeout(r, 50))
      expect(app.engine().active.find((a) => a.detector.id === 'split-hospitalization')!.params.window_days).toBe(30)
    } finally {
      stop()
      const refused = app.logs.lines.filter((l) => l.msg === 'rule base change refused; the previous rules stay in force')
      expect(refused).toEqual([])
    }
  })
})
