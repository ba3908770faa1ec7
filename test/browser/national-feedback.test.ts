// 3103 in the console (issue 10), in Debian's Chromium against a real server
// on real chDB: a hospital's HIS pre-checks a draft with a drug billed twice,
// answers the warning through the national 3103 (sent back for correction,
// then continued with a reason) before any alert exists; the claim is then
// streamed, the 事中 alert is stored under the warning's id, and its page shows
// the institution's answers beside the review. The detector catalog shows the
// returned-for-correction rate next to precision. Screenshots go to test-output/.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { buildServer, createLiveFeed, type LiveFeed } from '../../src/api/server.ts'
import { Users } from '../../src/auth/users.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { AMOXICILLIN_HOSPITAL, amoxicillinKb, buildConsole, closeConsoleTest, launchConsoleBrowser, onMarch2, TEST_OUTPUT } from '../helpers/browser.ts'
import { feeUploaded, visitOpened } from '../helpers/detect.ts'

const OUT = TEST_OUTPUT
const H1 = AMOXICILLIN_HOSPITAL
const kb = amoxicillinKb()
const at = onMarch2
let clock = Date.parse('2026-03-02T14:00:00+08:00')

/** A visit whose amoxicillin line is billed twice (a duplicate-charge warning). */
function billedTwice(psn_no: string, n: number): AnyEvent[] {
  const mdtrt_id = `MDTF${n}`
  const line = (k: number) => ({ feedetl_sn: `${mdtrt_id}-${k}`, fee_ocur_time: at(10, n), med_list_codg: 'DRUG-AMX', list_type: 'drug' as const, med_chrgitm_type: '09', cnt: '2', pric: `${20 + n}.50` })
  return [
    visitOpened({ event_id: `f-open-${n}`, mdtrt_id, psn_no, begntime: at(9, n), med_type: '11', fixmedins_code: H1 }),
    feeUploaded({ event_id: `f-fee-${n}`, mdtrt_id, psn_no, fixmedins_code: H1, lines: [line(1), line(2)] }),
  ]
}

/** A 3103 as ../shared/national/samples/3103.json has it. */
const feedback = (msgid: string, warns: { warn_rslt_id: string; dspo_way: string; dspo_way_rea?: string }[]) => ({
  infno: '3103', msgid, mdtrtarea_admvs: '370700', insuplc_admdvs: '370700', recer_sys_code: 'FSI_LOCAL', infver: 'V1.0', opter_type: '1',
  opter: 'D370702000789', opter_name: '赵医生', inf_time: '2026-03-02 14:05:00', fixmedins_code: H1, fixmedins_name: '潍坊市第一医院',
  input: { data: { warn_type: '1', warns } },
})

let app: TestApp
let server: FastifyInstance
let live: LiveFeed
let base = ''
let browser: Awaited<ReturnType<typeof launchConsoleBrowser>> | undefined
const tokens = { monitor: '', his: '' }
const ids = { continued: '', returned: '' }

async function call<T>(method: 'GET' | 'POST', path: string, who: keyof typeof tokens, body?: unknown): Promise<T> {
  const res = await server.inject({ method, url: `/api/v1${path}`, headers: { authorization: `Bearer ${tokens[who]}` }, ...(body === undefined ? {} : { payload: body as object }) })
  expect(res.statusCode, res.body).toBe(200)
  return res.json() as T
}

beforeAll(async () => {
  await buildConsole()
  app = await testApp({ kb })
  live = createLiveFeed(app)
  server = await buildServer(app, { live, now: () => clock })
  base = (await server.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1')
  const users = new Users(app.store)
  tokens.monitor = (await users.create({ name: '监控员小李', role: 'monitor' }, 'cli')).token
  tokens.his = (await users.create({ name: 'HIS-潍坊一院', role: 'precheck', fixmedins_codes: [H1] }, 'cli')).token

  // 事前: the HIS checks two drafts and hears of a duplicated line in each.
  for (const [k, psn, n] of [['continued', 'PSNF00001', 1], ['returned', 'PSNF00002', 2]] as const) {
    const { findings } = await call<{ findings: { alert_id: string; detector: { id: string } }[] }>('POST', '/precheck', 'his', { events: billedTwice(psn, n) })
    ids[k] = findings.find((f) => f.detector.id === 'duplicate-charge')!.alert_id
  }
  // The doctor sends both back; one is then continued as written, with the reason.
  const first = await call<{ infcode: number }>('POST', '/national/3103', 'his', feedback(`${H1}202603021405000001`, [{ warn_rslt_id: ids.continued, dspo_way: '2' }, { warn_rslt_id: ids.returned, dspo_way: '2' }]))
  expect(first.infcode).toBe(0)
  clock += 5 * 60_000
  const second = await call<{ infcode: number }>('POST', '/national/3103', 'his', { ...feedback(`${H1}202603021410000002`, [{ warn_rslt_id: ids.continued, dspo_way: '1', dspo_way_rea: '两次为不同批次发药，已核实处方' }]), inf_time: '2026-03-02 14:10:00' })
  expect(second.infcode).toBe(0)

  // 事中: the claims arrive on the stream; the alerts carry the warnings' ids.
  await app.pipeline({ alertSinks: [live.sink] }).run(generatorSource([...billedTwice('PSNF00001', 1), ...billedTwice('PSNF00002', 2)], { batchSize: 50 }), new AbortController().signal)
  mkdirSync(OUT, { recursive: true })
  browser = await launchConsoleBrowser()
}, 240_000)

afterAll(async () => closeConsoleTest({ browser, server, app }))

describe('national 3103 feedback in the console', () => {
  let page: Page

  it('shows the institution\'s answers in the alert\'s review record, latest first, the operator\'s name masked', async () => {
    page = await browser!.ctx.newPage()
    await page.goto(`${base}/alerts/${ids.continued}?token=${tokens.monitor}`)
    await page.waitForSelector('#feedback li')
    const items = page.locator('#feedback li')
    expect(await items.count()).toBe(2)
    expect(await items.evaluateAll((els) => els.map((e) => e.getAttribute('data-dspo-way')))).toEqual(['1', '2'])
    const latest = items.first()
    expect(await latest.locator('.tag').textContent()).toBe('继续执行')
    expect(await latest.locator('.fb-reason').textContent()).toBe('处理原因：两次为不同批次发药，已核实处方')
    expect(await latest.textContent()).toContain('赵**')
    expect(await latest.textContent()).not.toContain('赵医生')
    expect(await latest.textContent()).toContain('潍坊市第一医院')
    expect(await latest.textContent()).toContain('反馈于事前提醒，预警入库前')
    expect(await items.nth(1).locator('.tag').textContent()).toBe('返回修改')
    // Beside the review, which the feedback does not move.
    expect(await page.textContent('#workflow #status')).toBe('待处理')
    await page.locator('#feedback').screenshot({ path: join(OUT, 'console-feedback-panel.png') })
    await page.screenshot({ path: join(OUT, 'console-feedback.png'), fullPage: true })

    await page.goto(`${base}/alerts/${ids.returned}`)
    await page.waitForSelector('#feedback li')
    expect(await page.locator('#feedback li .tag').allTextContents()).toEqual(['返回修改'])
  })

  it('shows the returned-for-correction rate next to precision in the detector catalog', async () => {
    await page.goto(`${base}/detectors`)
    const line = page.locator('#detectors tr[data-id="duplicate-charge"]')
    await line.waitFor()
    // Two warnings answered; by the latest answers one went back for correction.
    expect(await line.locator('.returned').textContent()).toBe('50.0%')
    expect(await line.textContent()).toContain('(1/2)')
    expect(await page.locator('#detectors thead th').allTextContents()).toContain('返回修改率')
    await page.screenshot({ path: join(OUT, 'console-feedback-detectors.png') })
  })
})
