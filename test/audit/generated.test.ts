import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditTopK, runAudit, type AuditRun, type TopKScore } from '../../src/audit/runner.ts'
import { createGenerator } from '../../src/generator/generate.ts'
import type { Label } from '../../src/generator/labels.ts'
import { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'

// The generator's labelled audit-pattern fraud, replayed through the whole
// pipeline into chDB and audited: the end-to-end path `fundwatch audit` takes
// after a replay. Small (a few thousand persons) but with three injections of
// every audit pattern, so precision and recall mean something.
const START = Date.parse('2026-01-05T00:00:00+08:00')
const DAYS = 30
const DAY = 86_400_000

let app: TestApp
let labels: Label[]
let full: AuditRun
let scores: Record<string, TopKScore>
beforeAll(async () => {
  const gen = createGenerator({ seed: 20260105, persons: 3000, days: DAYS, startTime: START, fraudRate: 0.1, kb: sampleKnowledgeBase() })
  const events = [...gen.events()]
  labels = gen.labels
  app = await testApp({ kb: new KnowledgeBase(gen.kb, 'generated') })
  await app.pipeline().run(generatorSource(events, { batchSize: 2000 }), new AbortController().signal)
  full = await runAudit(app, { from: START, to: START + DAYS * DAY })
  scores = auditTopK(full.alerts, labels, 10)
}, 300_000)
afterAll(async () => {
  await app?.close()
  if (app) removeDir(app.dataDir)
})

describe('audit detectors on generated history', () => {
  it('has labels of every audit pattern to find', () => {
    for (const id of ['provider-outlier', 'case-mix-drift', 'collusion', 'inventory-mismatch', 'capacity-exceeded']) {
      expect(labels.filter((l) => l.pattern === id).length, id).toBeGreaterThanOrEqual(2)
    }
    expect(full.errors).toEqual([])
  })

  for (const id of ['provider-outlier', 'collusion', 'inventory-mismatch', 'capacity-exceeded']) {
    it(`${id}: finds every injected provider, and its top alerts are injected ones`, () => {
      const s = scores[id]!
      expect(s.labelsFound, JSON.stringify(s)).toBe(s.labels)
      expect(s.precision, JSON.stringify(s)).toBeGreaterThanOrEqual(0.9)
    })
  }

  it('case-mix-drift: raises nothing without a baseline, and nothing false over the second half against the first', async () => {
    expect(full.byDetector['case-mix-drift']).toBe(0)
    const half = START + 15 * DAY
    const late = await runAudit(app, { from: half, to: START + DAYS * DAY, detectors: ['case-mix-drift'] })
    const s = auditTopK(late.alerts, labels, 10)['case-mix-drift']!
    // A few hundred persons give a drifting hospital too few stays to prove a rise: no claim is fine, a false one is not.
    expect(s.tp).toBe(s.k)
  })
})
