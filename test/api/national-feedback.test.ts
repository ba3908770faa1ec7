import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FeedbackResponse } from '../../schemas/national-feedback.ts'
import { Users } from '../../src/auth/users.ts'
import { INST_A, INST_A2, eventsFor, fixture, people, type Fixture } from './fixture.ts'

/**
 * 3103: a hospital HIS answers the warnings fundwatch gave it (继续执行 with a
 * reason, or 返回修改). The answer is recorded against the warning's id — the
 * alert_id of the 事中 alert — whether the alert exists yet or not, shown on
 * the alert, counted per detector, and refused in the national form for any
 * id the institution was never told about.
 */
let fx: Fixture
/** A precheck token of the other Weifang hospital. */
let tokenA2 = ''
beforeAll(async () => {
  fx = await fixture()
  tokenA2 = (await new Users(fx.app.store).create({ name: 'HIS-潍坊二院', role: 'precheck', admdvs: [], fixmedins_codes: [INST_A2] }, 'cli')).token
})
afterAll(async () => fx?.close())

interface Warn { warn_rslt_id: string; dspo_way: string; dspo_way_rea?: string }
interface Finding { alert_id: string; detector: { id: string; version: string } }

let seq = 0
/** A 3103 as ../shared/national/samples/3103.json has it, for the institution and warnings given. */
function msg(inst: string, warns: Warn[], opts: { msgid?: string; warn_type?: string } = {}) {
  return {
    infno: '3103', msgid: opts.msgid ?? `${inst}20260302140000${String(++seq).padStart(4, '0')}`, mdtrtarea_admvs: '370700', insuplc_admdvs: '370700',
    recer_sys_code: 'FSI_LOCAL', dev_no: '', dev_safe_info: '', cainfo: '', signtype: 'SM3', infver: 'V1.0', opter_type: '1',
    opter: 'D370702000789', opter_name: '赵医生', inf_time: '2026-03-02 14:00:00', fixmedins_code: inst, fixmedins_name: '潍坊市示例人民医院',
    sign_no: '370700202403150000012345',
    input: { data: { warn_type: opts.warn_type ?? '1', warns } },
  }
}

const send = (body: unknown, token?: string) => fx.server.inject({ method: 'POST', url: '/api/v1/national/3103', payload: body as object, headers: { authorization: `Bearer ${token ?? fx.tokens.precheck}` } })
const feedbackRows = async () => Number((await fx.app.store.query<{ c: string }>(`SELECT count() AS c FROM ${fx.app.store.t('national_feedback')} FINAL`))[0]!.c)
const counted = async (detector: string, dspo_way: string) =>
  (await fx.app.metrics.nationalFeedback.get()).values.find((v) => v.labels.detector === detector && v.labels.dspo_way === dspo_way)?.value ?? 0

async function precheck(tag: string, offset: number): Promise<{ findings: Finding[]; person: ReturnType<typeof people>[number] }> {
  const person = people(1, INST_A, offset)[0]!
  const res = await fx.call('precheck', 'POST', '/api/v1/precheck', { events: eventsFor(person, 2, tag).slice(0, 2) })
  expect(res.statusCode).toBe(200)
  return { findings: (res.json() as { findings: Finding[] }).findings, person }
}

describe('national 3103 feedback', () => {
  it('records answers to pre-check findings before the alert exists, and the alert shows them once it is stored', async () => {
    const { findings, person } = await precheck('fb', 900)
    const dup = findings.find((f) => f.detector.id === 'duplicate-charge')!
    const restricted = findings.find((f) => f.detector.id === 'restricted-item')!
    const res = await send(msg(INST_A, [
      { warn_rslt_id: dup.alert_id, dspo_way: '2' },
      { warn_rslt_id: restricted.alert_id, dspo_way: '1', dspo_way_rea: '患者为女性，性别登记有误，已联系窗口更正' },
    ]))
    expect(res.statusCode).toBe(200)
    const body = FeedbackResponse.parse(res.json())
    expect(body).toMatchObject({ infcode: 0, err_msg: '' })
    expect(body.inf_refmsgid).toMatch(/^370700\d{14}\d{10}$/)
    expect(body.output!.recorded.map((r) => [r.warn_rslt_id, r.against, r.duplicate])).toEqual([[dup.alert_id, 'finding', false], [restricted.alert_id, 'finding', false]])
    // No alert yet: nothing to show in review.
    expect((await fx.call('monitor', 'GET', `/api/v1/alerts/${dup.alert_id}`)).statusCode).toBe(404)

    // The claim is settled and streamed: the 事中 alerts carry the same ids, and their review record shows the answers.
    await fx.ingest(eventsFor(person, 2, 'fb'))
    const detail = await fx.call('monitor', 'GET', `/api/v1/alerts/${dup.alert_id}`)
    expect(detail.statusCode).toBe(200)
    const fb = (detail.json() as { feedback: Record<string, unknown>[] }).feedback
    expect(fb).toHaveLength(1)
    expect(fb[0]).toMatchObject({
      alert_id: dup.alert_id, fixmedins_code: INST_A, institution_name: '潍坊市第一医院', detector_id: 'duplicate-charge', against: 'finding',
      warn_type: '1', dspo_way: '2', dspo_way_rea: '', opter: 'D370702000789', opter_name: '赵**', inf_time: '2026-03-02T06:00:00.000Z',
    })
    const other = (await fx.call('monitor', 'GET', `/api/v1/alerts/${restricted.alert_id}`)).json() as { feedback: Record<string, unknown>[] }
    expect(other.feedback.map((x) => [x.dspo_way, x.dspo_way_rea])).toEqual([['1', '患者为女性，性别登记有误，已联系窗口更正']])
    // An inspector with a stated purpose sees the operator's name, as any name.
    const revealed = await fx.call('inspector', 'GET', `/api/v1/alerts/${dup.alert_id}?purpose=${encodeURIComponent('核查机构反馈')}`)
    expect((revealed.json() as { feedback: { opter_name: string }[] }).feedback[0]!.opter_name).toBe('赵医生')
  })

  it('records an answer against a stored alert, once however often it is re-sent', async () => {
    const person = people(1, INST_A, 910)[0]!
    await fx.ingest(eventsFor(person, 2, 'al'))
    const [alert] = await fx.app.store.query<{ alert_id: string; detector_id: string }>(
      `SELECT alert_id, detector_id FROM ${fx.app.store.t('alerts')} FINAL WHERE psn_no = {p:String} AND detector_id = 'duplicate-charge'`, { p: person.psn_no })
    const before = { rows: await feedbackRows(), metric: await counted('duplicate-charge', '1') }
    const first = msg(INST_A, [{ warn_rslt_id: alert!.alert_id, dspo_way: '1', dspo_way_rea: '两次开药为不同批次，已核实' }], { warn_type: '2' })
    const a = FeedbackResponse.parse((await send(first)).json())
    expect(a.output!.recorded).toEqual([{ warn_rslt_id: alert!.alert_id, feedback_id: expect.stringMatching(/^[0-9a-f]{32}$/), against: 'alert', duplicate: false }])
    // The same message again, and the same answer under a new msgid (a HIS retrying): recorded once.
    const again = FeedbackResponse.parse((await send(first)).json())
    const retried = FeedbackResponse.parse((await send({ ...first, msgid: `${INST_A}202603021400019999` })).json())
    expect(again.output!.recorded[0]).toMatchObject({ feedback_id: a.output!.recorded[0]!.feedback_id, duplicate: true })
    expect(retried.output!.recorded[0]).toMatchObject({ feedback_id: a.output!.recorded[0]!.feedback_id, duplicate: true })
    expect(await feedbackRows()).toBe(before.rows + 1)
    expect(await counted('duplicate-charge', '1')).toBe(before.metric + 1)
    const detail = (await fx.call('monitor', 'GET', `/api/v1/alerts/${alert!.alert_id}`)).json() as { feedback: { against: string; warn_type: string }[] }
    expect(detail.feedback.map((f) => [f.against, f.warn_type])).toEqual([['alert', '2']])
  })

  it('refuses another institution\'s alert exactly as an id that does not exist, and records nothing', async () => {
    const { findings } = await precheck('iso', 920)
    const id = findings[0]!.alert_id
    const before = await feedbackRows()
    const theirs = await send(msg(INST_A2, [{ warn_rslt_id: id, dspo_way: '2' }]), tokenA2)
    const unknown = await send(msg(INST_A2, [{ warn_rslt_id: 'ffffffffffffffffffffffffffffffff', dspo_way: '2' }]), tokenA2)
    expect(theirs.statusCode).toBe(200)
    const t = FeedbackResponse.parse(theirs.json())
    const u = FeedbackResponse.parse(unknown.json())
    expect([t.infcode, t.output, t.err_msg]).toEqual([-1, undefined, expect.any(String)])
    expect(t.err_msg).toBe(`warns[0].warn_rslt_id: ${id} is not a warning given to ${INST_A2}`)
    expect(u.err_msg.replace('ffffffffffffffffffffffffffffffff', id)).toBe(t.err_msg)
    // A stored 事中 alert of the first hospital: the same refusal, word for word.
    const person = people(1, INST_A, 921)[0]!
    await fx.ingest(eventsFor(person, 2, 'iso'))
    const [stored] = await fx.app.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${fx.app.store.t('alerts')} FINAL WHERE psn_no = {p:String} LIMIT 1`, { p: person.psn_no })
    const theirAlert = FeedbackResponse.parse((await send(msg(INST_A2, [{ warn_rslt_id: stored!.alert_id, dspo_way: '2' }]), tokenA2)).json())
    expect([theirAlert.infcode, theirAlert.err_msg.replace(stored!.alert_id, id)]).toEqual([-1, t.err_msg])
    // The institution's own token naming another institution in the envelope: refused too.
    const posing = FeedbackResponse.parse((await send(msg(INST_A2, [{ warn_rslt_id: id, dspo_way: '2' }]))).json())
    expect([posing.infcode, posing.err_msg]).toEqual([-1, `fixmedins_code: ${INST_A2} — this token speaks for ${INST_A} (机构编号与令牌不符)`])
    // One bad warning refuses the message whole.
    const mixed = FeedbackResponse.parse((await send(msg(INST_A, [{ warn_rslt_id: id, dspo_way: '2' }, { warn_rslt_id: 'ffffffffffffffffffffffffffffffff', dspo_way: '2' }]))).json())
    expect([mixed.infcode, mixed.err_msg]).toEqual([-1, expect.stringContaining('warns[1].warn_rslt_id')])
    expect(await feedbackRows()).toBe(before)
  })

  it('answers malformed requests and refused callers in the national form', async () => {
    const { findings } = await precheck('bad', 930)
    const id = findings[0]!.alert_id
    const noReason = FeedbackResponse.parse((await send(msg(INST_A, [{ warn_rslt_id: id, dspo_way: '1' }]))).json())
    expect([noReason.infcode, noReason.err_msg]).toEqual([-1, expect.stringContaining('warns[0].dspo_way_rea')])
    const badWay = FeedbackResponse.parse((await send(msg(INST_A, [{ warn_rslt_id: id, dspo_way: '3' }]))).json())
    expect(badWay.err_msg).toContain('warns[0].dspo_way')
    const { input: _input, ...envelope } = msg(INST_A, [])
    const noInput = await send({ ...envelope, fixmedins_code: INST_A })
    expect([noInput.statusCode, FeedbackResponse.parse(noInput.json()).err_msg]).toEqual([200, expect.stringContaining('input')])
    const notJson = await fx.server.inject({ method: 'POST', url: '/api/v1/national/3103', payload: '{"infno":', headers: { authorization: `Bearer ${fx.tokens.precheck}`, 'content-type': 'application/json' } })
    expect([notJson.statusCode, notJson.json().infcode]).toEqual([200, -1])
    // Not the transaction's fault: the HTTP status says so, the body is still national.
    const monitor = await send(msg(INST_A, [{ warn_rslt_id: id, dspo_way: '2' }]), fx.tokens.monitor)
    expect([monitor.statusCode, monitor.json().infcode]).toEqual([403, -1])
    const anonymous = await fx.server.inject({ method: 'POST', url: '/api/v1/national/3103', payload: msg(INST_A, [{ warn_rslt_id: id, dspo_way: '2' }]) })
    expect([anonymous.statusCode, anonymous.json().infcode]).toEqual([401, -1])
  })

  it('counts per detector the share of answered warnings sent back for correction, in the caller\'s scope, and lists them by dspo_way', async () => {
    const { findings } = await precheck('rate', 940)
    const dup = findings.find((f) => f.detector.id === 'duplicate-charge')!
    const stats = async (who: 'monitor' | 'monitorB') =>
      ((await fx.call(who, 'GET', '/api/v1/detectors/duplicate-charge')).json() as { detector: { stats: { answered: number; returned: number; returned_rate: number | null; precision: number | null } } }).detector.stats
    const s0 = await stats('monitor')
    // Sent back, then continued once the order was rewritten: the latest answer is the one that counts.
    await send(msg(INST_A, [{ warn_rslt_id: dup.alert_id, dspo_way: '2' }]))
    const s1 = await stats('monitor')
    expect([s1.answered, s1.returned]).toEqual([s0.answered + 1, s0.returned + 1])
    expect(s1.returned_rate).toBeCloseTo(s1.returned / s1.answered)
    fx.clock.ms += 60_000
    await send(msg(INST_A, [{ warn_rslt_id: dup.alert_id, dspo_way: '1', dspo_way_rea: '已修改医嘱后继续' }]))
    const s2 = await stats('monitor')
    expect([s2.answered, s2.returned]).toEqual([s0.answered + 1, s0.returned])
    // Beijing's monitor sees none of Weifang's answers.
    expect(await stats('monitorB')).toMatchObject({ answered: 0, returned: 0, returned_rate: null })

    const all = (await fx.call('monitor', 'GET', `/api/v1/national/feedback?detector=duplicate-charge`)).json() as { feedback: { alert_id: string; dspo_way: string }[] }
    expect(all.feedback.filter((f) => f.alert_id === dup.alert_id).map((f) => f.dspo_way)).toEqual(['1', '2'])
    const returned = (await fx.call('monitor', 'GET', `/api/v1/national/feedback?dspo_way=2&latest=true`)).json() as { feedback: { alert_id: string }[] }
    expect(returned.feedback.map((f) => f.alert_id)).not.toContain(dup.alert_id)
    const everReturned = (await fx.call('monitor', 'GET', `/api/v1/national/feedback?dspo_way=2`)).json() as { feedback: { alert_id: string }[] }
    expect(everReturned.feedback.map((f) => f.alert_id)).toContain(dup.alert_id)
    expect((await fx.call('monitorB', 'GET', '/api/v1/national/feedback')).json()).toEqual({ feedback: [] })
    expect((await fx.call('precheck', 'GET', '/api/v1/national/feedback')).statusCode).toBe(403)
  })
})
