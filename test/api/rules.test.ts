import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rulesHash } from '../../src/detect/rules-file.ts'
import { fixture, type Fixture } from './fixture.ts'

/**
 * The rule base over HTTP (issue 14, item 4 and the console's bench): the
 * version in force with its text, every recorded version, a candidate
 * validated and compared with the version in force, a change that needs a
 * reason, and a revert that appends an earlier text again.
 */
let fx: Fixture
beforeAll(async () => {
  fx = await fixture()
})
afterAll(async () => fx?.close())

const V1 = `# 规则库 v1
detectors:
  over-standard-charge:
    params:
      tolerance_pct: 5
    scope:
      admdvs: ['3707']
`
const V2 = `# 规则库 v2: stricter in Weifang, and no restricted-item rule
detectors:
  over-standard-charge:
    params: { tolerance_pct: 10 }
    scope: { admdvs: ['3707', '3708'] }
    severity: high
  restricted-item:
    enabled: false
`

describe('GET /api/v1/rules', () => {
  it('says no version is recorded before the first change (every detector with its defaults)', async () => {
    const r = await fx.call('admin', 'GET', '/api/v1/rules')
    expect(r.statusCode).toBe(200)
    expect(r.json()).toMatchObject({ hash: '', text: '', changes: [] })
  })
})

describe('POST /api/v1/rules/validate', () => {
  it('diffs the effective rules against the version in force: a default spelt out, comments and key order are no change', async () => {
    await fx.call('admin', 'PUT', '/api/v1/rules', { text: V1, reason: '潍坊先行' })
    // The same rules as V1, written differently: another comment, flow style, a default spelt out.
    const same = `# 同 v1\ndetectors: { over-standard-charge: { scope: { admdvs: ['3707'] }, params: { tolerance_pct: 5, min_excess_amount: 0.01 }, enabled: true } }\n`
    const r = await fx.call('admin', 'POST', '/api/v1/rules/validate', { text: same })
    expect(r.statusCode).toBe(200)
    expect(r.json().hash).toBe(rulesHash(same))
    expect(r.json().diff).toEqual([])
  })

  it('names each changed leaf of each detector: parameters, scope, severity and mode', async () => {
    const r = await fx.call('admin', 'POST', '/api/v1/rules/validate', { text: V2 })
    expect(r.statusCode).toBe(200)
    const body = r.json() as { hash: string; detectors: { id: string; mode: string; params_hash: string }[]; diff: unknown[] }
    expect(body.diff).toEqual([
      { detector: 'restricted-item', path: 'mode', from: 'on', to: 'off' },
      { detector: 'over-standard-charge', path: 'params.tolerance_pct', from: 5, to: 10 },
      { detector: 'over-standard-charge', path: 'scope.admdvs', from: ['3707'], to: ['3707', '3708'] },
      { detector: 'over-standard-charge', path: 'severity', from: null, to: 'high' },
    ].sort((a, b) => order(a) - order(b) || a.path.localeCompare(b.path)))
    expect(body.detectors.find((d) => d.id === 'restricted-item')?.mode).toBe('off')
    expect(body.detectors.find((d) => d.id === 'over-standard-charge')?.mode).toBe('on')
    // Validation changes nothing.
    expect((await fx.call('admin', 'GET', '/api/v1/rules')).json().hash).toBe(rulesHash(V1))
  })

  it('refuses an invalid text with the line, exactly as PUT refuses it', async () => {
    const bad = V1.replace('tolerance_pct: 5', 'tolerance_pct: "five"')
    const v = await fx.call('admin', 'POST', '/api/v1/rules/validate', { text: bad })
    const p = await fx.call('admin', 'PUT', '/api/v1/rules', { text: bad, reason: '应被拒绝' })
    expect(v.statusCode).toBe(400)
    expect(v.json().error).toBe('RULEBASE_INVALID')
    expect(v.json().message).toMatch(/^rules:5: .*tolerance_pct/)
    expect([p.statusCode, p.json().error, p.json().message]).toEqual([400, 'RULEBASE_INVALID', v.json().message])
  })
})

/** The registry's order of the two detectors named above (the diff's order). */
function order(c: { detector: string }): number {
  return fx.app.registry.findIndex((d) => d.id === c.detector)
}

describe('PUT /api/v1/rules, versions and revert', () => {
  it('needs a reason, and only a scope-less admin changes the rule base', async () => {
    for (const body of [{ text: V2 }, { text: V2, reason: '' }, { text: V2, reason: '   ' }, { text: V2, reason: 'x'.repeat(501) }]) {
      const r = await fx.call('admin', 'PUT', '/api/v1/rules', body)
      expect(r.statusCode, JSON.stringify(body).slice(0, 60)).toBe(400)
    }
    const scoped = await fx.call('adminA', 'PUT', '/api/v1/rules', { text: V2, reason: '地方管理员' })
    expect([scoped.statusCode, scoped.json().error]).toEqual([403, 'FORBIDDEN'])
    expect((await fx.call('admin', 'GET', '/api/v1/rules')).json().hash).toBe(rulesHash(V1))
  })

  it('records a change with who, why and the version it replaced, and puts it in force', async () => {
    const r = await fx.call('admin', 'PUT', '/api/v1/rules', { text: V2, reason: '提高阈值，潍坊全市' })
    expect(r.statusCode).toBe(200)
    expect(r.json().hash).toBe(rulesHash(V2))
    const now = (await fx.call('admin', 'GET', '/api/v1/rules')).json()
    expect(now).toMatchObject({ hash: rulesHash(V2), text: V2 })
    expect(now.changes[0]).toMatchObject({ hash: rulesHash(V2), by: `user:${fx.ids.admin}`, source: 'api', reason: '提高阈值，潍坊全市', parent: rulesHash(V1) })
    expect(fx.app.engine().active.find((a) => a.detector.id === 'over-standard-charge')!.params.tolerance_pct).toBe(10)
    expect(fx.app.engine().active.some((a) => a.detector.id === 'restricted-item')).toBe(false)
  })

  it('GET /api/v1/rules/versions/:hash: any recorded version with its text; 404 for one never recorded', async () => {
    const v = await fx.call('admin', 'GET', `/api/v1/rules/versions/${rulesHash(V1)}`)
    expect(v.statusCode).toBe(200)
    expect(v.json()).toMatchObject({ hash: rulesHash(V1), text: V1, source: 'api', reason: '潍坊先行', by: `user:${fx.ids.admin}` })
    expect(v.json().detectors).toContainEqual(expect.stringMatching(/^over-standard-charge@[0-9a-f]{12}$/))
    const none = await fx.call('admin', 'GET', `/api/v1/rules/versions/${'0'.repeat(12)}`)
    expect([none.statusCode, none.json().error]).toEqual([404, 'NOT_FOUND'])
  })

  it('revert appends the earlier version again (same text, same hash) with its own reason; the history keeps all three', async () => {
    const scoped = await fx.call('adminA', 'POST', '/api/v1/rules/revert', { hash: rulesHash(V1), reason: '地方管理员' })
    expect(scoped.statusCode).toBe(403)
    const unknown = await fx.call('admin', 'POST', '/api/v1/rules/revert', { hash: 'abcdef123456', reason: '不存在' })
    expect([unknown.statusCode, unknown.json().error]).toEqual([404, 'NOT_FOUND'])
    expect((await fx.call('admin', 'POST', '/api/v1/rules/revert', { hash: rulesHash(V1) })).statusCode).toBe(400)

    const r = await fx.call('admin', 'POST', '/api/v1/rules/revert', { hash: rulesHash(V1), reason: '阈值过高，回退' })
    expect(r.statusCode).toBe(200)
    expect(r.json().hash).toBe(rulesHash(V1))
    const now = (await fx.call('admin', 'GET', '/api/v1/rules')).json()
    expect(now).toMatchObject({ hash: rulesHash(V1), text: V1 })
    expect(now.changes.map((c: { hash: string; source: string; reason: string; parent: string }) => [c.hash, c.source, c.reason, c.parent])).toEqual([
      [rulesHash(V1), 'revert', '阈值过高，回退', rulesHash(V2)],
      [rulesHash(V2), 'api', '提高阈值，潍坊全市', rulesHash(V1)],
      [rulesHash(V1), 'api', '潍坊先行', ''],
    ])
    const texts = await fx.app.store.query<{ text: string }>(`SELECT text FROM ${fx.app.store.t('rulebase_changes')} ORDER BY at`)
    expect(texts.map((t) => t.text)).toEqual([V1, V2, V1])
    expect(fx.app.engine().active.find((a) => a.detector.id === 'over-standard-charge')!.params.tolerance_pct).toBe(5)
    // The version keeps its first record: who wrote the text, not who reverted to it.
    expect((await fx.call('admin', 'GET', `/api/v1/rules/versions/${rulesHash(V1)}`)).json().reason).toBe('潍坊先行')
  })

  it('exposes the version in force as fundwatch_rulebase_info{hash}', async () => {
    const m = (await fx.call(null, 'GET', '/metrics')).body
    expect(m.match(/^fundwatch_rulebase_info\{.*$/gm)).toEqual([`fundwatch_rulebase_info{hash="${rulesHash(V1)}"} 1`])
  })

  it('refuses a change made against a version that is no longer the latest recorded (expected_hash), whichever process recorded the newer one', async () => {
    const inForce = (await fx.call('admin', 'GET', '/api/v1/rules')).json().hash as string
    // Another replica records a change this process has not polled yet.
    const V3 = 'detectors:\n  over-standard-charge:\n    params: { tolerance_pct: 7 }\n'
    await fx.app.store.insert('rulebase_changes', [{ hash: rulesHash(V3), at: '2099-01-01 00:00:00.000', by: 'user:other', source: 'api', reason: '另一位管理员', parent: inForce, text: V3, detectors: [] }])
    const count = async () => (await fx.app.store.query(`SELECT hash FROM ${fx.app.store.t('rulebase_changes')}`)).length
    const before = await count()
    for (const [path, body] of [
      ['/api/v1/rules', { text: V2, reason: '基于旧版本的修改', expected_hash: inForce }],
      ['/api/v1/rules/revert', { hash: rulesHash(V2), reason: '基于旧版本的回退', expected_hash: inForce }],
    ] as const) {
      const r = await fx.call('admin', path === '/api/v1/rules' ? 'PUT' : 'POST', path, body)
      expect([r.statusCode, r.json().error], path).toEqual([409, 'CONFLICT'])
    }
    expect(await count()).toBe(before)
    expect(fx.app.rulesInForce().hash).toBe(inForce)
    // Made against the latest recorded version, the same change goes through and names it as its parent.
    const ok = await fx.call('admin', 'PUT', '/api/v1/rules', { text: V2, reason: '看过最新版本后修改', expected_hash: rulesHash(V3) })
    expect(ok.statusCode).toBe(200)
    expect((await fx.call('admin', 'GET', `/api/v1/rules`)).json().changes[0]).toMatchObject({ hash: rulesHash(V2), parent: rulesHash(V3) })
  })
})
