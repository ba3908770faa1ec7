import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { applyRules, followRuleBase, syncRuleBase } from '../../src/detect/rulebase-store.ts'
import { rulesHash } from '../../src/detect/rules-file.ts'
import { chTime } from '../../src/util/time.ts'
import { deliveryKb } from '../helpers/claims.ts'
import { removeDir, testApp, type TestApp } from '../helpers/app.ts'

/**
 * The rule base in ClickHouse as the source of truth (issue 14, item 4): what a
 * process runs at start and while it runs, whoever wrote the change; and a
 * rules file that only ever adds a text never recorded.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'fw-rulebase-'))
const database = `rb_${process.pid}`
const file = join(dataDir, 'rules.yaml')
const opened: TestApp[] = []
afterAll(async () => {
  for (const a of opened) await a.close().catch(() => undefined)
  removeDir(dataDir)
})

const windowDays = (text: string) => `detectors:\n  split-hospitalization:\n    params:\n      window_days: ${text}\n`
const inForceDays = (a: TestApp) => a.engine().active.find((x) => x.detector.id === 'split-hospitalization')!.params.window_days
/** A process started on the shared store, as a restart of the same replica would be. */
async function start(env: Record<string, string> = {}): Promise<TestApp> {
  const a = await testApp({ kb: deliveryKb, dataDir, database, env })
  opened.push(a)
  return a
}
async function stop(a: TestApp): Promise<void> {
  opened.splice(opened.indexOf(a), 1)
  await a.close()
}
const rows = async (a: TestApp) => a.store.query<{ hash: string; source: string }>(`SELECT hash, source FROM ${a.store.t('rulebase_changes')} ORDER BY at`)

describe('the rules file against the versioned rule base', () => {
  it('records a file\'s text on first start; a restart with the same (older) file does not override a newer API change', async () => {
    writeFileSync(file, windowDays('15'))
    const first = await start({ FUNDWATCH_RULES: file })
    expect(first.rulesInForce().hash).toBe(rulesHash(windowDays('15')))
    expect(inForceDays(first)).toBe(15)
    // A change made through the API (or on another replica) after the file.
    await applyRules(first, windowDays('20'), { by: 'user:u_test', source: 'api', reason: '放宽窗口' })
    await stop(first)

    const again = await start({ FUNDWATCH_RULES: file })
    expect(again.rulesInForce().hash).toBe(rulesHash(windowDays('20')))
    expect(inForceDays(again)).toBe(20)
    expect((await rows(again)).map((r) => r.source)).toEqual(['file', 'api'])
    expect(again.logs.lines.some((l) => l.msg === 'rule base in force' && l.hash === rulesHash(windowDays('20')))).toBe(true)
    await stop(again)
  })

  it('an edited file (a text never recorded) becomes a new version at the next start', async () => {
    writeFileSync(file, windowDays('25'))
    const edited = await start({ FUNDWATCH_RULES: file })
    expect(inForceDays(edited)).toBe(25)
    expect((await rows(edited)).map((r) => r.source)).toEqual(['file', 'api', 'file'])
    await stop(edited)
  })
})

describe('following the version in force', () => {
  it('picks up a change another process recorded, between batches, with the log line and the gauge', async () => {
    const a = await start()
    const days = inForceDays(a)
    // Another replica's change: a row appended to the shared history.
    const text = windowDays('28')
    const stopFollowing = followRuleBase(a, { pollMs: 100 })
    try {
      await a.store.insert('rulebase_changes', [{ hash: rulesHash(text), at: chTime(Date.now() + 1000), by: 'user:elsewhere', source: 'api', reason: '另一副本', parent: '', text, detectors: [] }])
      for (let i = 0; i < 100 && inForceDays(a) === days; i++) await new Promise((r) => setTimeout(r, 50))
      expect(inForceDays(a)).toBe(28)
      expect(a.rulesInForce()).toEqual({ hash: rulesHash(text), text })
      expect(a.logs.lines.filter((l) => l.msg === 'rule base in force').at(-1)).toMatchObject({ hash: rulesHash(text) })
      expect((await a.metrics.ruleBaseInfo.get()).values).toEqual([{ labels: { hash: rulesHash(text) }, value: 1 }])
    } finally {
      stopFollowing()
    }
    await stop(a)
  })

  it('keeps the engine it has when the latest version is invalid for this build, counting it once; a start falls back to the newest valid one', async () => {
    const a = await start()
    const before = a.engine()
    const validHash = a.rulesInForce().hash
    const bad = 'detectors:\n  detector-of-a-newer-build: {}\n'
    await a.store.insert('rulebase_changes', [{ hash: rulesHash(bad), at: chTime(Date.now() + 5000), by: 'user:newer', source: 'api', reason: '新版本规则', parent: validHash, text: bad, detectors: [] }])
    const refused = new Set<string>()
    const invalid = async () => (await a.metrics.ruleReloads.get()).values.find((v) => v.labels.outcome === 'invalid')?.value
    const counted = await invalid()
    await syncRuleBase(a, refused)
    await syncRuleBase(a, refused)
    expect(a.engine()).toBe(before)
    expect(a.rulesInForce().hash).toBe(validHash)
    expect(await invalid()).toBe(counted! + 1)
    expect(a.logs.lines.filter((l) => l.msg?.toString().startsWith('rule base version refused')).map((l) => l.hash)).toEqual([rulesHash(bad)])
    await stop(a)

    const restarted = await start()
    expect(restarted.rulesInForce().hash).toBe(validHash)
    expect(inForceDays(restarted)).toBe(28)
    await stop(restarted)
  })
})
