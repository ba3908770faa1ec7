import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectors } from '../../detectors/index.ts'
import { runAudit } from '../../src/audit/runner.ts'
import { ENGINE_EVIDENCE_LABELS, evidenceLabel } from '../../src/detect/evidence.ts'
import type { EvidenceLabels } from '../../src/detect/types.ts'
import { createGenerator } from '../../src/generator/generate.ts'
import { KnowledgeBase } from '../../src/kb/knowledge-base.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import type { AlertSink } from '../../src/pipeline/types.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'

// Issue 15: the console showed `times_billed` and `same_item_same_time` raw.
// Every evidence key a detector emits, at any depth, and every enumerated
// value, must have a zh and an en label in the detector's own `evidence`
// declaration (or be one the engine adds: `<list>_omitted`, the pre-check's
// `disclosure`). What "can emit" means here: everything the detectors found in
// the generator's history with every fraud pattern injected, streamed and
// audited — the same run `npm start` shows.

/** A value that reads as a machine token (same_item_same_time, gender): shown to staff only through a label. */
const ENUM_LIKE = /^[a-z][a-z0-9_]*$/

function unlabelled(labels: EvidenceLabels, evidence: unknown, where: string, out: Set<string>, parent?: string): void {
  if (Array.isArray(evidence)) {
    for (const x of evidence) unlabelled(labels, x, where, out, parent)
    return
  }
  if (evidence !== null && typeof evidence === 'object') {
    for (const [k, v] of Object.entries(evidence)) {
      const label = evidenceLabel(labels, k)
      if (!label) out.add(`${where}: key ${k}`)
      if (label?.keyed) continue
      unlabelled(labels, v, where, out, k)
    }
    return
  }
  if (parent !== undefined && typeof evidence === 'string' && ENUM_LIKE.test(evidence) && !evidenceLabel(labels, parent)?.values?.[evidence]) {
    out.add(`${where}: value ${parent}=${evidence}`)
  }
}

describe('evidence labels', () => {
  it('every label a detector declares, and every value label, has both zh and en', () => {
    const empty: string[] = []
    for (const [owner, labels] of [...detectors.map((d) => [d.id, d.evidence] as const), ['engine', ENGINE_EVIDENCE_LABELS] as const]) {
      for (const [k, l] of Object.entries(labels)) {
        if (!l.zh.trim() || !l.en.trim()) empty.push(`${owner}: ${k}`)
        for (const [v, vl] of Object.entries(l.values ?? {})) if (!vl.zh.trim() || !vl.en.trim()) empty.push(`${owner}: ${k}=${v}`)
      }
    }
    expect(empty).toEqual([])
  })

  it('labels a capped list\'s count and the pre-check\'s disclosure for every detector', () => {
    for (const d of detectors) {
      expect(evidenceLabel(d.evidence, 'disclosure')?.values?.['other_institutions']?.zh, d.id).toBeTruthy()
      expect(evidenceLabel(d.evidence, 'amount_withheld')?.en, d.id).toBeTruthy()
    }
    const dup = detectors.find((d) => d.id === 'duplicate-charge')!
    expect(evidenceLabel(dup.evidence, 'lines_omitted')).toEqual({ zh: '涉及明细（未列出）', en: 'lines not listed' })
    expect(evidenceLabel(dup.evidence, 'nothing_omitted')).toBeUndefined()
  })

  describe('on generated history with every pattern injected', () => {
    const START = Date.parse('2026-01-05T00:00:00+08:00')
    const DAY = 86_400_000
    let app: TestApp
    const found: { detector: { id: string }; evidence: Record<string, unknown> }[] = []
    beforeAll(async () => {
      const gen = createGenerator({ seed: 20260105, persons: 3000, days: 30, startTime: START, fraudRate: 0.1, kb: sampleKnowledgeBase() })
      app = await testApp({ kb: new KnowledgeBase(gen.kb, 'generated') })
      const collect: AlertSink = { name: 'collect', publish: async (alerts) => { found.push(...alerts) } }
      await app.pipeline({ alertSinks: [collect] }).run(generatorSource([...gen.events()], { batchSize: 2000 }), new AbortController().signal)
      found.push(...(await runAudit(app, { from: START, to: START + 30 * DAY })).alerts)
    }, 300_000)
    afterAll(async () => {
      await app?.close()
      if (app) removeDir(app.dataDir)
    })

    it('finds something for every detector but case-mix-drift (which needs a baseline this history does not give)', () => {
      const silent = detectors.map((d) => d.id).filter((id) => !found.some((a) => a.detector.id === id))
      expect(silent).toEqual(['case-mix-drift'])
    })

    it('every key and enumerated value in their evidence has a zh/en label declared by the detector', () => {
      const missing = new Set<string>()
      for (const a of found) unlabelled(detectors.find((d) => d.id === a.detector.id)!.evidence, a.evidence, a.detector.id, missing)
      expect([...missing].sort()).toEqual([])
    })
  })
})
