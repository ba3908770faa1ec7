import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildServer } from '../../src/api/server.ts'
import { bootstrapAdmin } from '../../src/auth/bootstrap.ts'
import { ROLES, type Role } from '../../src/auth/principal.ts'
import { Users, hashToken } from '../../src/auth/users.ts'
import { dlqId } from '../../src/pipeline/pipeline.ts'
import type { Source } from '../../src/pipeline/types.ts'
import { testApp } from '../helpers/app.ts'
import { INST_A, INST_B, eventsFor, fixture, people, type Fixture, type TokenName } from './fixture.ts'

let fx: Fixture
let alertsA: string[] = []
let alertsB: string[] = []
let caseA = ''
let caseB = ''

const ROLE_TOKEN: Record<Role, TokenName> = { monitor: 'monitor', inspector: 'inspector', admin: 'admin', precheck: 'precheck' }
const STAFF: Role[] = ['monitor', 'inspector', 'admin']
const CASEWORK: Role[] = ['inspector', 'admin']

beforeAll(async () => {
  fx = await fixture()
  await fx.ingest([...people(12, INST_A).flatMap((p) => eventsFor(p, 2, 'a')), ...people(4, INST_B, 100).flatMap((p) => eventsFor(p, 2, 'b'))])
  const ids = async (admdvs: string) => (await fx.app.store.query<{ alert_id: string }>(
    `SELECT alert_id FROM ${fx.app.store.t('alerts')} FINAL WHERE admdvs = {a:String} ORDER BY alert_id`, { a: admdvs })).map((r) => r.alert_id)
  alertsA = await ids('370702')
  alertsB = await ids('110105')
  const mk = async (alert_ids: string[]) => (await fx.call('inspector', 'POST', '/api/v1/cases', { title: '测试案件', subject: { kind: 'institution' }, alert_ids })).json().case.case_id as string
  caseA = await mk(alertsA.slice(0, 3))
  caseB = await mk(alertsB.slice(0, 2))
})
afterAll(async () => fx?.close())

describe('authentication', () => {
  it('refuses /api without a token, with an unknown one, and with a malformed header', async () => {
    for (const h of [{}, { authorization: 'Bearer ' + 'x'.repeat(43) }, { authorization: 'Basic abc' }, { authorization: `Bearer ${fx.tokens.monitor}x` }]) {
      const r = await fx.server.inject({ method: 'GET', url: '/api/v1/alerts', headers: h })
      expect(r.statusCode).toBe(401)
      expect(r.json().error).toBe('UNAUTHORIZED')
    }
    // The query-string token is only for the SSE stream.
    expect((await fx.server.inject({ method: 'GET', url: `/api/v1/alerts?access_token=${fx.tokens.monitor}` })).statusCode).toBe(401)
  })

  it('keeps only the SHA-256 of a token', async () => {
    const rows = await fx.app.store.query<{ token_sha256: string }>(`SELECT token_sha256 FROM ${fx.app.store.t('users')} FINAL`)
    expect(rows.map((r) => r.token_sha256)).toContain(hashToken(fx.tokens.monitor))
    const dump = JSON.stringify(await fx.app.store.query(`SELECT * FROM ${fx.app.store.t('users')}`))
    for (const t of Object.values(fx.tokens)) expect(dump).not.toContain(t)
  })

  it('leaves /healthz, /metrics and /docs open; a path that matches no route is the same bare 404 to everyone', async () => {
    expect((await fx.call(null, 'GET', '/healthz')).statusCode).toBe(200)
    expect((await fx.call(null, 'GET', '/metrics')).statusCode).toBe(200)
    // No route, nothing to protect: authentication belongs to routes (the route list is public at /docs/json anyway).
    for (const who of [null, 'monitor'] as const) {
      const r = await fx.call(who, 'GET', '/api/v1/nothing-here')
      expect([r.statusCode, r.json()]).toEqual([404, { error: 'NOT_FOUND', message: 'not found' }])
    }
  })
})

// Every route, with a valid request for an allowed caller. Each call builds a
// fresh request (fresh alert for transitions, current version for a patch) so
// allowed callers get a success status, not merely "not 403".
interface RouteCase {
  route: string
  roles: readonly Role[]
  ok: number
  call: (who: TokenName) => Promise<{ statusCode: number; json: () => { error?: string } }>
}
let pool = 3 // alertsA[0..2] belong to caseA; the rest are free for workflow calls
const fresh = () => alertsA[pool++]!

const ROUTES: RouteCase[] = [
  { route: 'GET /api/v1/me', roles: ROLES, ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/me') },
  { route: 'GET /api/v1/workflow', roles: STAFF, ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/workflow') },
  { route: 'GET /api/v1/alerts', roles: STAFF, ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/alerts?limit=5') },
  {
    route: 'GET /api/v1/alerts/stream', roles: STAFF, ok: 200,
    call: async (w) => {
      // The stream never ends: read the head and close it.
      const r = await fx.server.inject({ method: 'GET', url: `/api/v1/alerts/stream?access_token=${fx.tokens[w]}`, payloadAsStream: true })
      const res = { statusCode: r.statusCode, json: () => (r.statusCode === 200 ? {} : JSON.parse(String(r.stream().read() ?? '{}'))) }
      const body = res.json()
      r.stream().destroy()
      return { statusCode: res.statusCode, json: () => body }
    },
  },
  { route: 'GET /api/v1/alerts/{alert_id}', roles: STAFF, ok: 200, call: (w) => fx.call(w, 'GET', `/api/v1/alerts/${alertsA[0]}`) },
  { route: 'POST /api/v1/alerts/{alert_id}/transitions', roles: STAFF, ok: 200, call: (w) => fx.call(w, 'POST', `/api/v1/alerts/${fresh()}/transitions`, { to: 'first_review', version: 0 }) },
  { route: 'POST /api/v1/alerts/{alert_id}/assign', roles: STAFF, ok: 200, call: (w) => fx.call(w, 'POST', `/api/v1/alerts/${fresh()}/assign`, { assignee: fx.ids.monitor, version: 0 }) },
  { route: 'GET /api/v1/assignees', roles: STAFF, ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/assignees') },
  { route: 'GET /api/v1/cases', roles: CASEWORK, ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/cases') },
  { route: 'POST /api/v1/cases', roles: CASEWORK, ok: 201, call: (w) => fx.call(w, 'POST', '/api/v1/cases', { title: '矩阵案件', subject: { kind: 'institution' }, alert_ids: [alertsA[0]] }) },
  { route: 'GET /api/v1/cases/{case_id}', roles: CASEWORK, ok: 200, call: (w) => fx.call(w, 'GET', `/api/v1/cases/${caseA}`) },
  {
    route: 'PATCH /api/v1/cases/{case_id}', roles: CASEWORK, ok: 200,
    call: async (w) => {
      const version = (await fx.call('inspector', 'GET', `/api/v1/cases/${caseA}`)).json().case.version as number
      return fx.call(w, 'PATCH', `/api/v1/cases/${caseA}`, { version, note: `noted by ${w}` })
    },
  },
  { route: 'GET /api/v1/cases/{case_id}/evidence', roles: CASEWORK, ok: 200, call: (w) => fx.call(w, 'GET', `/api/v1/cases/${caseA}/evidence`) },
  { route: 'GET /api/v1/cases/{case_id}/evidence.zip', roles: CASEWORK, ok: 200, call: (w) => fx.call(w, 'GET', `/api/v1/cases/${caseA}/evidence.zip?purpose=${encodeURIComponent('权限矩阵测试')}`) },
  { route: 'GET /api/v1/detectors', roles: STAFF, ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/detectors') },
  { route: 'GET /api/v1/detectors/{id}', roles: STAFF, ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/detectors/duplicate-charge') },
  { route: 'GET /api/v1/detectors/{id}/shadow-alerts', roles: STAFF, ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/detectors/duplicate-charge/shadow-alerts') },
  { route: 'GET /api/v1/institutions/ranking', roles: STAFF, ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/institutions/ranking') },
  { route: 'GET /api/v1/institutions/{fixmedins_code}', roles: STAFF, ok: 200, call: (w) => fx.call(w, 'GET', `/api/v1/institutions/${INST_A}`) },
  { route: 'GET /api/v1/users', roles: ['admin'], ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/users') },
  { route: 'POST /api/v1/users', roles: ['admin'], ok: 201, call: (w) => fx.call(w, 'POST', '/api/v1/users', { name: '新用户', role: 'monitor', admdvs: ['3707'] }) },
  {
    route: 'POST /api/v1/users/{user_id}/revoke', roles: ['admin'], ok: 200,
    call: async (w) => {
      const { user } = await new Users(fx.app.store).create({ name: '待撤销', role: 'monitor', admdvs: ['3707'] }, 'cli')
      return fx.call(w, 'POST', `/api/v1/users/${user.id}/revoke`)
    },
  },
  { route: 'GET /api/v1/access-log', roles: ['admin'], ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/access-log') },
  { route: 'GET /api/v1/dead-letters', roles: ['admin'], ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/dead-letters') },
  { route: 'GET /api/v1/dead-letters/export', roles: ['admin'], ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/dead-letters/export') },
  { route: 'GET /api/v1/dead-letters/{dlq_id}', roles: ['admin'], ok: 200, call: async (w) => fx.call(w, 'GET', `/api/v1/dead-letters/${await aDeadLetter()}`) },
  { route: 'GET /api/v1/rules', roles: ['admin'], ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/rules') },
  { route: 'PUT /api/v1/rules', roles: ['admin'], ok: 200, call: (w) => fx.call(w, 'PUT', '/api/v1/rules', { text: 'detectors: {}\n', reason: '权限矩阵测试' }) },
  { route: 'POST /api/v1/rules/validate', roles: ['admin'], ok: 200, call: (w) => fx.call(w, 'POST', '/api/v1/rules/validate', { text: 'detectors: {}\n' }) },
  {
    route: 'GET /api/v1/rules/versions/{hash}', roles: ['admin'], ok: 200,
    call: async (w) => fx.call(w, 'GET', `/api/v1/rules/versions/${await aRuleVersion()}`),
  },
  { route: 'POST /api/v1/rules/revert', roles: ['admin'], ok: 200, call: async (w) => fx.call(w, 'POST', '/api/v1/rules/revert', { hash: await aRuleVersion(), reason: '权限矩阵测试' }) },
  // Backtests (one at a time per process): the admin's start waits for any job of the matrix still running; cancelling a finished job is 409.
  { route: 'POST /api/v1/rules/backtest', roles: ['admin'], ok: 202, call: async (w) => { await aBacktest(); return fx.call(w, 'POST', '/api/v1/rules/backtest', BACKTEST) } },
  { route: 'GET /api/v1/rules/backtest', roles: ['admin'], ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/rules/backtest') },
  { route: 'GET /api/v1/rules/backtest/{id}', roles: ['admin'], ok: 200, call: async (w) => fx.call(w, 'GET', `/api/v1/rules/backtest/${await aBacktest()}`) },
  { route: 'DELETE /api/v1/rules/backtest/{id}', roles: ['admin'], ok: 409, call: async (w) => fx.call(w, 'DELETE', `/api/v1/rules/backtest/${await aBacktest()}`) },
  // Every role, each within its scope: the HIS (precheck) for its own hospital, staff to try a claim.
  { route: 'POST /api/v1/precheck', roles: [...ROLES], ok: 200, call: (w) => fx.call(w, 'POST', '/api/v1/precheck', { events: eventsFor(people(1, INST_A, 700)[0]!, 2, 'pc').slice(0, 2) }) },
  // The HIS answers the warnings it was given (docs/national-feedback.md); staff read the answers.
  {
    route: 'POST /api/v1/national/3103', roles: ['precheck'], ok: 200, call: (w) => fx.call(w, 'POST', '/api/v1/national/3103', {
      infno: '3103', msgid: `${INST_A}202603021400000001`, mdtrtarea_admvs: '370700', recer_sys_code: 'FSI_LOCAL', infver: 'V1.0', opter_type: '1',
      opter: 'D1', opter_name: '赵医生', inf_time: '2026-03-02 14:00:00', fixmedins_code: INST_A, input: { data: { warn_type: '1', warns: [{ warn_rslt_id: '0'.repeat(32), dspo_way: '2' }] } },
    }),
  },
  { route: 'GET /api/v1/national/feedback', roles: STAFF, ok: 200, call: (w) => fx.call(w, 'GET', '/api/v1/national/feedback') },
  // 3101/3102: every role, each within its scope (docs/national-analysis.md); one outside it is answered infcode -1, as the platform answers, not 403.
  ...(['3101', '3102'] as const).map((infno) => ({ route: `POST /api/v1/national/${infno}`, roles: [...ROLES], ok: 200, call: (w: TokenName) => fx.call(w, 'POST', `/api/v1/national/${infno}`, nationalSample(infno)) })),
  { route: 'POST /api/v1/national', roles: [...ROLES], ok: 200, call: (w) => fx.call(w, 'POST', '/api/v1/national', nationalSample('3101')) },
]

/** The shared sample's request of a 3101/3102 (test/fixtures/national/samples). */
function nationalSample(infno: '3101' | '3102'): unknown {
  return (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'national', 'samples', `${infno}.json`), 'utf8')) as { request: unknown }).request
}

/** One recorded rule-base version (the detectors' defaults, written out), recorded once; its hash. */
let ruleVersion: Promise<string> | undefined
function aRuleVersion(): Promise<string> {
  ruleVersion ??= (async () => (await fx.call('admin', 'PUT', '/api/v1/rules', { text: 'detectors: {}\n', reason: '权限矩阵测试' })).json().hash as string)()
  return ruleVersion
}

/** One refused record (not JSON), stored once; its dlq_id. */
let deadLetter: Promise<string> | undefined
function aDeadLetter(): Promise<string> {
  deadLetter ??= (async () => {
    const rec = { value: Buffer.from('{"event_id": '), pos: 'matrix.jsonl:1', owner: 'test' }
    const source: Source = { name: 'test', async *batches() { yield { records: [rec] } } }
    await fx.app.pipeline({ now: fx.clock.now }).run(source, new AbortController().signal)
    return dlqId(rec)
  })()
  return deadLetter
}

const BACKTEST = { text: 'detectors: {}\n', from: '2026-03-01', to: '2026-03-31' }
/** One backtest run to its end by the admin, after any other still running; its job_id. */
let backtestJob: Promise<string> | undefined
function aBacktest(): Promise<string> {
  backtestJob ??= (async () => {
    const list = async () => (await fx.call('admin', 'GET', '/api/v1/rules/backtest')).json() as { jobs: { job_id: string; status: string }[] }
    while ((await list()).jobs.some((j) => j.status === 'running')) await new Promise((r) => setTimeout(r, 20))
    const id = (await fx.call('admin', 'POST', '/api/v1/rules/backtest', BACKTEST)).json().job_id as string
    while ((await list()).jobs.some((j) => j.status === 'running')) await new Promise((r) => setTimeout(r, 20))
    return id
  })()
  return backtestJob
}

describe('role × route matrix', () => {
  it('covers every /api route the server documents', async () => {
    const doc = (await fx.call(null, 'GET', '/docs/json')).json() as { paths: Record<string, Record<string, unknown>> }
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).filter((r) => r.includes(' /api/')).sort()
    expect(documented).toEqual(ROUTES.map((r) => r.route).sort())
  })

  for (const rc of ROUTES) {
    it(rc.route, async () => {
      for (const role of ROLES) {
        const r = await rc.call(ROLE_TOKEN[role])
        if (rc.roles.includes(role)) expect(r.statusCode, `${role} on ${rc.route}`).toBe(rc.ok)
        else {
          expect(r.statusCode, `${role} on ${rc.route}`).toBe(403)
          expect(r.json().error).toBe('FORBIDDEN')
        }
      }
    })
  }
})

describe('id scope: another region\'s object is 404, one\'s own is not', () => {
  it('alerts: detail, transition, assign', async () => {
    for (const [who, own, other] of [['monitorB', alertsB, alertsA], ['monitorA', alertsA, alertsB]] as const) {
      const theirs = other[other.length - 1]!
      const mine = own[own.length - 1]!
      for (const [method, suffix, body] of [['GET', '', undefined], ['POST', '/transitions', { to: 'first_review', version: 0 }], ['POST', '/assign', { assignee: null, version: 0 }]] as const) {
        const r = await fx.call(who, method, `/api/v1/alerts/${theirs}${suffix}`, body)
        expect(r.statusCode, `${who} ${method} other${suffix}`).toBe(404)
        expect(r.json().error).toBe('NOT_FOUND')
      }
      expect((await fx.call(who, 'GET', `/api/v1/alerts/${mine}`)).statusCode).toBe(200)
    }
    // An id that does not exist looks the same as one out of scope.
    const none = await fx.call('monitorB', 'GET', `/api/v1/alerts/${'0'.repeat(32)}`)
    expect([none.statusCode, none.json().message.includes('not found')]).toEqual([404, true])
  })

  it('cases: detail, patch, evidence, evidence pack; creating or extending with foreign alerts', async () => {
    for (const suffix of ['', '/evidence', `/evidence.zip?purpose=${encodeURIComponent('越权测试')}`]) {
      expect((await fx.call('inspectorA', 'GET', `/api/v1/cases/${caseB}${suffix}`)).statusCode, suffix).toBe(404)
      expect((await fx.call('inspectorA', 'GET', `/api/v1/cases/${caseA}${suffix}`)).statusCode, suffix).toBe(200)
    }
    const version = (await fx.call('inspector', 'GET', `/api/v1/cases/${caseB}`)).json().case.version
    expect((await fx.call('inspectorA', 'PATCH', `/api/v1/cases/${caseB}`, { version, note: 'x' })).statusCode).toBe(404)
    expect((await fx.call('inspectorA', 'POST', '/api/v1/cases', { title: '跨区', subject: { kind: 'institution' }, alert_ids: [alertsA[0], alertsB[0]] })).statusCode).toBe(404)
    const vA = (await fx.call('inspectorA', 'GET', `/api/v1/cases/${caseA}`)).json().case.version
    expect((await fx.call('inspectorA', 'PATCH', `/api/v1/cases/${caseA}`, { version: vA, add_alert_ids: [alertsB[1]] })).statusCode).toBe(404)
    const listA = (await fx.call('inspectorA', 'GET', '/api/v1/cases?limit=200')).json().cases as { case_id: string }[]
    expect(listA.map((c) => c.case_id)).toContain(caseA)
    expect(listA.map((c) => c.case_id)).not.toContain(caseB)
  })

  it('institutions', async () => {
    expect((await fx.call('monitorB', 'GET', `/api/v1/institutions/${INST_A}`)).statusCode).toBe(404)
    const own = await fx.call('monitorB', 'GET', `/api/v1/institutions/${INST_B}`)
    expect(own.statusCode).toBe(200)
    expect(own.json().institution).toMatchObject({ fixmedins_code: INST_B, admdvs: '110105', level: 2 })
    expect((await fx.call('monitor', 'GET', '/api/v1/institutions/H99999999999')).statusCode).toBe(404)
  })

  it('users: a regional admin manages only users inside its region', async () => {
    const users = new Users(fx.app.store)
    const bj = (await users.create({ name: '北京用户', role: 'monitor', admdvs: ['1101'] }, 'cli')).user
    const wf = (await users.create({ name: '潍坊用户', role: 'monitor', admdvs: ['370702'] }, 'cli')).user
    expect((await fx.call('adminA', 'POST', `/api/v1/users/${bj.id}/revoke`)).statusCode).toBe(404)
    expect((await fx.call('adminA', 'POST', `/api/v1/users/${wf.id}/revoke`)).statusCode).toBe(200)
    const listed = ((await fx.call('adminA', 'GET', '/api/v1/users')).json().users as { id: string }[]).map((u) => u.id)
    expect(listed).toContain(wf.id)
    expect(listed).not.toContain(bj.id)
  })

  it('detectors are a global catalog: an unknown id is 404, stats are scoped', async () => {
    expect((await fx.call('monitorB', 'GET', '/api/v1/detectors/no-such-rule')).statusCode).toBe(404)
    const b = (await fx.call('monitorB', 'GET', '/api/v1/detectors/duplicate-charge')).json().detector.stats.alerts
    const all = (await fx.call('monitor', 'GET', '/api/v1/detectors/duplicate-charge')).json().detector.stats.alerts
    const countB = await fx.app.store.query<{ c: string }>(`SELECT count() c FROM ${fx.app.store.t('alerts')} FINAL WHERE detector_id = 'duplicate-charge' AND admdvs LIKE '1101%'`)
    expect(b).toBe(Number(countB[0]!.c))
    expect(all).toBeGreaterThan(b)
  })

  it('the feed and the ranking show only the caller\'s region', async () => {
    const feed = (await fx.call('monitorB', 'GET', '/api/v1/alerts?limit=500')).json().alerts as { alert_id: string; admdvs: string }[]
    expect(feed.map((a) => a.alert_id).sort()).toEqual([...alertsB].sort())
    const rank = (await fx.call('monitorB', 'GET', '/api/v1/institutions/ranking')).json().institutions as { fixmedins_code: string }[]
    expect(rank.map((r) => r.fixmedins_code)).toEqual([INST_B])
    // A precheck token scoped to its own hospital still gets no feed.
    expect((await fx.call('precheck', 'GET', `/api/v1/alerts?fixmedins_code=${INST_A}`)).statusCode).toBe(403)
  })
})

describe('users and tokens', () => {
  it('creates a user whose token works at once, shown only in the creation response', async () => {
    const r = await fx.call('admin', 'POST', '/api/v1/users', { name: '稽核员乙', role: 'inspector', admdvs: ['3707'] })
    expect(r.statusCode).toBe(201)
    const { user, token } = r.json() as { user: { id: string; role: string }; token: string }
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const me = await fx.server.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } })
    expect(me.json()).toMatchObject({ id: user.id, role: 'inspector', admdvs: ['3707'] })
    const list = (await fx.call('admin', 'GET', '/api/v1/users')).body
    expect(list).toContain(user.id)
    expect(list).not.toContain(token)
    expect(list).not.toContain(hashToken(token))
  })

  it('revokes immediately', async () => {
    const { user, token } = (await fx.call('admin', 'POST', '/api/v1/users', { name: '临时', role: 'monitor' })).json() as { user: { id: string }; token: string }
    const h = { authorization: `Bearer ${token}` }
    expect((await fx.server.inject({ method: 'GET', url: '/api/v1/alerts?limit=1', headers: h })).statusCode).toBe(200)
    const rv = await fx.call('admin', 'POST', `/api/v1/users/${user.id}/revoke`)
    expect(rv.json().user.revoked_at).toBeTypeOf('string')
    expect((await fx.server.inject({ method: 'GET', url: '/api/v1/alerts?limit=1', headers: h })).statusCode).toBe(401)
  })

  it('lets an admin hand out only scopes inside its own', async () => {
    expect((await fx.call('adminA', 'POST', '/api/v1/users', { name: 'x', role: 'monitor' })).statusCode).toBe(403)
    expect((await fx.call('adminA', 'POST', '/api/v1/users', { name: 'x', role: 'monitor', admdvs: ['11'] })).statusCode).toBe(403)
    expect((await fx.call('adminA', 'POST', '/api/v1/users', { name: 'x', role: 'monitor', fixmedins_codes: [INST_B] })).statusCode).toBe(403)
    expect((await fx.call('adminA', 'POST', '/api/v1/users', { name: 'x', role: 'monitor', fixmedins_codes: [INST_A] })).statusCode).toBe(201)
    expect((await fx.call('adminA', 'POST', '/api/v1/users', { name: 'x', role: 'superuser' })).statusCode).toBe(400)
  })

  it('bootstrapAdmin creates the first admin once, and its token never reaches the log', async () => {
    // chDB allows one data directory per process: a second database in it is a fresh install.
    const app = await testApp({ dataDir: fx.app.dataDir, database: `boot_${process.pid}` })
    try {
      const token = await bootstrapAdmin(app)
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(await bootstrapAdmin(app)).toBeUndefined()
      const p = await new Users(app.store).authenticate(token!)
      expect(p?.role).toBe('admin')
      expect(app.logs.raw.join('\n')).not.toContain(token)
    } finally {
      await app.store.command(`DROP DATABASE IF EXISTS ${app.store.db}`)
    }
  })
})

describe('limits and headers', () => {
  it('refuses oversized bodies and bad input with the error shape', async () => {
    const big = await fx.call('inspector', 'POST', '/api/v1/cases', { title: 'x'.repeat(70_000), subject: { kind: 'institution' }, alert_ids: [alertsA[0]] })
    expect(big.statusCode).toBe(413)
    expect(big.json().error).toBe('PAYLOAD_TOO_LARGE')
    const bad = await fx.call('monitor', 'GET', '/api/v1/alerts?limit=100000')
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error).toBe('BAD_REQUEST')
    const unknown = await fx.call('monitor', 'GET', '/api/v1/alerts?drop_table=1')
    expect(unknown.statusCode).toBe(400)
  })

  it('rate-limits per token', async () => {
    const server = await buildServer(fx.app, { webDir: false, rateLimitPerMinute: 3, review: {} })
    const h = { authorization: `Bearer ${fx.tokens.monitor}` }
    const codes: number[] = []
    for (let i = 0; i < 4; i++) codes.push((await server.inject({ method: 'GET', url: '/api/v1/me', headers: h })).statusCode)
    const last = await server.inject({ method: 'GET', url: '/api/v1/me', headers: h })
    expect(codes).toEqual([200, 200, 200, 429])
    expect(last.json().error).toBe('RATE_LIMITED')
    // Another token has its own budget.
    expect((await server.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${fx.tokens.admin}` } })).statusCode).toBe(200)
    await server.close()
  })

  it('serves the console beside the API, with the same headers, and keeps the JSON 404', async () => {
    const dist = mkdtempSync(join(tmpdir(), 'fw-dist-'))
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>fundwatch console</title>')
    const server = await buildServer(fx.app, { webDir: dist, review: {} })
    const page = await server.inject({ method: 'GET', url: `/alerts/${alertsA[0]}` })
    expect([page.statusCode, page.body]).toEqual([200, '<!doctype html><title>fundwatch console</title>'])
    expect(String(page.headers['content-security-policy'])).toContain("script-src 'self'")
    const missing = await server.inject({ method: 'GET', url: '/nowhere' })
    expect([missing.statusCode, missing.json().error]).toEqual([404, 'NOT_FOUND'])
    // A console path under /api is still the API's: authenticated, JSON.
    expect((await server.inject({ method: 'GET', url: '/api/v1/cases' })).statusCode).toBe(401)
    await server.close()
  })

  it('sends security headers and serves the OpenAPI UI', async () => {
    const r = await fx.call('monitor', 'GET', '/api/v1/me')
    expect(r.headers['x-content-type-options']).toBe('nosniff')
    expect(String(r.headers['content-security-policy'])).toContain("default-src 'self'")
    const ui = await fx.server.inject({ method: 'GET', url: '/docs/' })
    expect(ui.statusCode).toBe(200)
    expect(ui.headers['content-type']).toMatch(/html/)
  })
})

describe('issue 8: scope, purpose and tokens', () => {
  const accessLog = async (who: TokenName, query = '') => ((await fx.call(who, 'GET', `/api/v1/access-log?limit=500${query}`)).json().entries as { object_id: string; purpose: string }[])

  it('a region-scoped admin reads only the access-log entries about objects in its region', async () => {
    for (const url of [`/api/v1/alerts/${alertsB[0]}`, `/api/v1/alerts/${alertsA[0]}`, `/api/v1/cases/${caseB}/evidence`, `/api/v1/cases/${caseA}/evidence`]) {
      expect((await fx.call('inspector', 'GET', url)).statusCode).toBe(200)
    }
    const all = (await accessLog('admin')).map((e) => e.object_id)
    expect(all).toEqual(expect.arrayContaining([alertsB[0], alertsA[0], caseB, caseA]))
    const regional = (await accessLog('adminA')).map((e) => e.object_id)
    expect(regional).toEqual(expect.arrayContaining([alertsA[0], caseA]))
    expect(regional).not.toContain(alertsB[0])
    expect(regional).not.toContain(caseB)
    expect(await accessLog('adminA', `&object_id=${alertsB[0]}`)).toEqual([])
    // Paging through a scoped log still ends, and never shows another region.
    let cursor = ''
    const paged: string[] = []
    do {
      const r = (await fx.call('adminA', 'GET', `/api/v1/access-log?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json() as { entries: { object_id: string }[]; next?: string }
      paged.push(...r.entries.map((e) => e.object_id))
      cursor = r.next ?? ''
    } while (cursor)
    expect(paged).toEqual(regional)
  })

  it('a case is assigned only to an inspector who can see all of it, also when alerts are added later', async () => {
    const beijing = (await fx.call('admin', 'POST', '/api/v1/users', { name: '北京稽核员', role: 'inspector', admdvs: ['1101'] })).json().user.id as string
    const version = async () => (await fx.call('inspector', 'GET', `/api/v1/cases/${caseA}`)).json().case.version as number
    const wrong = await fx.call('inspector', 'PATCH', `/api/v1/cases/${caseA}`, { version: await version(), assignee: beijing })
    expect([wrong.statusCode, wrong.json().message]).toEqual([400, `assignee ${beijing} is not an active inspector who can see this case`])
    expect((await fx.call('inspector', 'PATCH', `/api/v1/cases/${caseA}`, { version: await version(), assignee: fx.ids.inspectorA })).statusCode).toBe(200)
    // Assigned to Weifang's inspector, the case cannot take a Beijing alert unless someone who sees both takes it over.
    const grow = await fx.call('inspector', 'PATCH', `/api/v1/cases/${caseA}`, { version: await version(), add_alert_ids: [alertsB[3]] })
    expect(grow.statusCode).toBe(400)
    expect((await fx.call('inspector', 'PATCH', `/api/v1/cases/${caseA}`, { version: await version(), add_alert_ids: [alertsB[3]], assignee: fx.ids.inspector })).statusCode).toBe(200)
    expect((await fx.call('inspector', 'PATCH', `/api/v1/cases/${caseA}`, { version: await version(), remove_alert_ids: [alertsB[3]] })).statusCode).toBe(200)
  })

  it('a case\'s subject names only an institution the caller can see', async () => {
    const make = (fixmedins_code: string) => fx.call('inspectorA', 'POST', '/api/v1/cases', { title: '主体', subject: { kind: 'institution', fixmedins_code }, alert_ids: [alertsA[0]] })
    const other = await make(INST_B)
    expect([other.statusCode, other.json()]).toEqual([404, { error: 'NOT_FOUND', message: `institution ${INST_B} not found` }])
    expect((await make('H99999999999')).statusCode).toBe(404)
    expect((await make(INST_A)).statusCode).toBe(201)
  })

  it('a purpose of invisible characters states nothing and unmasks nothing', async () => {
    const zw = '\u200b\u200b'
    const q = await fx.call('inspector', 'GET', `/api/v1/alerts/${alertsA[0]}?purpose=${encodeURIComponent(zw)}`)
    expect([q.statusCode, q.json().error]).toEqual([400, 'BAD_REQUEST'])
    for (const h of [zw, '\u2060\ufeff', ' \u00ad ']) {
      const r = await fx.call('inspector', 'GET', `/api/v1/alerts/${alertsA[0]}`, undefined, { 'x-purpose': encodeURIComponent(h) })
      expect([r.statusCode, r.json().revealed]).toEqual([200, false])
    }
    const stated = await fx.call('inspector', 'GET', `/api/v1/alerts/${alertsA[0]}`, undefined, { 'x-purpose': encodeURIComponent(' 稽核\u200b 核查 ') })
    expect([stated.statusCode, stated.json().revealed]).toEqual([200, true])
    // The clock stands still in these tests: entries share a time, so look for it rather than take the first.
    expect((await accessLog('admin', `&object_id=${alertsA[0]}`)).map((e) => e.purpose)).toContain('稽核 核查')
  })

  it('evidence.zip takes its purpose from X-Purpose, as documented', async () => {
    const r = await fx.call('inspector', 'GET', `/api/v1/cases/${caseA}/evidence.zip`, undefined, { 'x-purpose': encodeURIComponent('专项检查取证') })
    expect(r.statusCode).toBe(200)
    expect(r.headers['content-type']).toBe('application/zip')
    expect((await accessLog('admin', `&object_id=${caseA}`)).map((e) => e.purpose)).toContain('专项检查取证')
    expect((await fx.call('inspector', 'GET', `/api/v1/cases/${caseA}/evidence.zip`)).statusCode).toBe(400)
  })

  it('responses that carry unmasked personal data say Cache-Control: no-store', async () => {
    for (const url of [`/api/v1/alerts/${alertsA[0]}?purpose=${encodeURIComponent('稽核')}`, `/api/v1/cases/${caseA}/evidence?purpose=${encodeURIComponent('稽核')}`]) {
      const r = await fx.call('inspector', 'GET', url)
      expect([r.statusCode, r.json().revealed, r.headers['cache-control']]).toEqual([200, true, 'no-store'])
    }
  })

  it('an admin cannot revoke its own token', async () => {
    const r = await fx.call('admin', 'POST', `/api/v1/users/${fx.ids.admin}/revoke`)
    expect([r.statusCode, r.json().error]).toEqual([409, 'CONFLICT'])
    expect((await fx.call('admin', 'GET', '/api/v1/me')).statusCode).toBe(200)
  })
})
