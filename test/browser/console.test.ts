// The console, driven in Debian's Chromium against a real server on real chDB:
// alerts come from claim events through the pipeline, tokens from the user
// store, the evidence pack from the API. Screenshots go to test-output/.
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { strFromU8, unzipSync } from 'fflate'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AnyEvent } from '../../schemas/index.ts'
import { buildServer, createLiveFeed, type LiveFeed } from '../../src/api/server.ts'
import { Users } from '../../src/auth/users.ts'
import { alertsById } from '../../src/store/alerts.ts'
import { alertRow } from '../../src/store/rows.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { buildConsole, closeConsoleTest, launchConsoleBrowser, TEST_OUTPUT } from '../helpers/browser.ts'
import { feeUploaded, institution, item, makeKb, settlementCompleted, visitOpened } from '../helpers/detect.ts'

const OUT = TEST_OUTPUT

const H1 = 'H11010500001' // level 2: level-3 items are out of bounds here
const H2 = 'H11010500002'
const H3 = 'H11010800003'
const H4 = 'H44010500004' // ~1,900 km from the others: a visit there and one here within hours is impossible travel
const kb = makeKb({
  institutions: [
    institution(H1, { name: '示例市第二人民医院', level: 2, admdvs: '110105' }),
    institution(H2, { name: '示例市中心医院', level: 3, admdvs: '110105' }),
    institution(H3, { name: '示例区社区卫生服务中心', level: 1, admdvs: '110108' }),
    institution(H4, { name: '远方市人民医院', level: 3, admdvs: '440105', lat: 23.13, lon: 113.26 }),
  ],
  catalog: [
    item('SVC-REG', { name: '普通门诊诊查费' }),
    item('SVC-OBST', { name: '产前检查', gend: '2' }),
    item('SVC-CT', { name: 'X线计算机体层(CT)平扫', min_hosp_lv: 3 }),
    item('SVC-US', { name: '彩色多普勒超声常规检查', price_cap_lv1: '120.00', price_cap_lv2: '150.00', price_cap_lv3: '180.00' }),
    item('DRUG-AMX', { name: '阿莫西林胶囊', list_type: 'drug', med_chrgitm_type: '09' }),
    item('DRUG-ADULT', { name: '成人专用片', list_type: 'drug', med_chrgitm_type: '09', age_min: 18 }),
  ],
})

// Generated people: synthetic names and ID numbers (valid check digit, made-up digits), never real ones.
const NAMES = ['赵一鸣', '钱二宝', '孙三元', '李四海', '周五洲', '吴六合', '郑七星', '王八方', '冯九思', '陈十全', '褚一帆', '卫二林', '蒋三石', '沈四维', '韩五岳', '杨六顺']
function certno(i: number, gend: '1' | '2'): string {
  const body = `11010519${String(70 + (i % 25)).padStart(2, '0')}0${(i % 9) + 1}1${i % 10}${String(10 + i).slice(-2)}${gend === '1' ? 1 : 2}`
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  const sum = [...body].reduce((s, c, k) => s + Number(c) * w[k]!, 0)
  return body + '10X98765432'[sum % 11]!
}

const day = (d: number, h: number, m = 0) => `2026-03-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00+08:00`

/** One outpatient visit with a normal line plus the problem this person is chosen for. */
function person(i: number, tag: string): AnyEvent[] {
  const psn_no = `PSN${tag}${String(i).padStart(5, '0')}`
  const gend: '1' | '2' = i % 3 === 0 ? '2' : '1'
  const inst = [H1, H2, H3][i % 3]!
  const mdtrt_id = `MDT${tag}${i}`
  const d = 2 + (i % 20)
  const open = visitOpened({ event_id: `${tag}-o-${i}`, mdtrt_id, psn_no, begntime: day(d, 8, i % 60), med_type: '11', gend, fixmedins_code: inst, atddr_no: `DR${1000 + i}`, diagnoses: [{ diag_code: 'J06.900', diag_name: '急性上呼吸道感染' }] })
  // Personal data the console must mask for everyone but an inspector with a purpose.
  const withPsn = AnyEvent.parse({ ...open, payload: { ...open.payload, psn: { ...open.payload.psn, certno: certno(i, gend), psn_name: NAMES[i % NAMES.length] } } })
  const lines: Parameters<typeof feeUploaded>[0]['lines'] = [{ feedetl_sn: `${tag}L${i}-0`, fee_ocur_time: day(d, 9), med_list_codg: 'SVC-REG', pric: '25.00' }]
  const kind = i % 4
  if (kind === 0 && gend === '1') lines.push({ feedetl_sn: `${tag}L${i}-1`, fee_ocur_time: day(d, 10), med_list_codg: 'SVC-OBST', pric: `${80 + i * 7}.00` })
  else if (kind === 1 || (kind === 0 && gend === '2')) lines.push({ feedetl_sn: `${tag}L${i}-1`, fee_ocur_time: day(d, 10), med_list_codg: 'DRUG-AMX', list_type: 'drug', med_chrgitm_type: '09', cnt: '2', pric: `${18 + i}.50` }, { feedetl_sn: `${tag}L${i}-2`, fee_ocur_time: day(d, 10), med_list_codg: 'DRUG-AMX', list_type: 'drug', med_chrgitm_type: '09', cnt: '2', pric: `${18 + i}.50` })
  else if (kind === 2) lines.push({ feedetl_sn: `${tag}L${i}-1`, fee_ocur_time: day(d, 10), med_list_codg: 'SVC-US', pric: `${200 + i * 11}.00` })
  else lines.push({ feedetl_sn: `${tag}L${i}-1`, fee_ocur_time: day(d, 10), med_list_codg: 'SVC-CT', pric: `${240 + i * 13}.00` })
  const fee = feeUploaded({ event_id: `${tag}-f-${i}`, mdtrt_id, psn_no, lines, fixmedins_code: inst })
  const total = lines.reduce((s, l) => s + Number(l.cnt ?? '1') * Number(l.pric), 0)
  const setl = settlementCompleted({ event_id: `${tag}-s-${i}`, mdtrt_id, psn_no, setl_id: `SETL${tag}${i}`, setl_time: day(d, 11), med_type: '11', medfee_sumamt: total.toFixed(2), fund_pay_sumamt: (total * 0.7).toFixed(2), fixmedins_code: inst })
  return [withPsn, fee, setl]
}

/**
 * Two cases the 40 people above do not cover: an adult-only drug for a child
 * (an age restriction with no upper bound), and one person's card used in
 * Guangzhou and then in Beijing two hours later, before any settlement (an
 * identity-misuse alert whose amount — what the insurance paid — is not known yet).
 */
function extras(): AnyEvent[] {
  const child = 'PSNX00001'
  const traveller = 'PSNX00002'
  return [
    visitOpened({ event_id: 'X-o-1', mdtrt_id: 'MDTX1', psn_no: child, begntime: day(4, 9), med_type: '11', brdy: '2016-04-01', fixmedins_code: H2 }),
    feeUploaded({ event_id: 'X-f-1', mdtrt_id: 'MDTX1', psn_no: child, fixmedins_code: H2, lines: [
      { feedetl_sn: 'XL1-0', fee_ocur_time: day(4, 9, 10), med_list_codg: 'SVC-REG', pric: '25.00' },
      { feedetl_sn: 'XL1-1', fee_ocur_time: day(4, 9, 20), med_list_codg: 'DRUG-ADULT', list_type: 'drug', med_chrgitm_type: '09', cnt: '1', pric: '36.00' },
    ] }),
    visitOpened({ event_id: 'X-o-2', mdtrt_id: 'MDTX2', psn_no: traveller, begntime: day(5, 8), med_type: '11', fixmedins_code: H4 }),
    visitOpened({ event_id: 'X-o-3', mdtrt_id: 'MDTX3', psn_no: traveller, begntime: day(5, 10), med_type: '11', fixmedins_code: H1 }),
    feeUploaded({ event_id: 'X-f-3', mdtrt_id: 'MDTX3', psn_no: traveller, fixmedins_code: H1, lines: [{ feedetl_sn: 'XL3-0', fee_ocur_time: day(5, 10, 5), med_list_codg: 'SVC-REG', pric: '25.00' }] }),
  ]
}

let app: TestApp
let server: FastifyInstance
let live: LiveFeed
let base: string
let ctx: BrowserContext
let browser: Awaited<ReturnType<typeof launchConsoleBrowser>> | undefined
const tokens: Record<'monitor' | 'inspector' | 'admin', string> = { monitor: '', inspector: '', admin: '' }

async function feed(events: AnyEvent[]): Promise<void> {
  await app.pipeline({ alertSinks: [live.sink] }).run(generatorSource(events, { batchSize: 500 }), new AbortController().signal)
}

/** The API's view, for checking that what the console showed and did really happened. */
async function apiGet<T>(path: string, role: keyof typeof tokens = 'inspector'): Promise<T> {
  const res = await server.inject({ method: 'GET', url: `/api/v1${path}`, headers: { authorization: `Bearer ${tokens[role]}` } })
  expect(res.statusCode, res.body).toBe(200)
  return res.json() as T
}

type Item = { alert_id: string; detector: { id: string }; subject: { fixmedins_code: string; psn_no?: string }; refs: { feedetl_sns: string[] }; workflow: { status: string; version: number } }

beforeAll(async () => {
  // The console as `npm run build:web` builds it; the server serves web/dist.
  await buildConsole()
  app = await testApp({ kb })
  live = createLiveFeed(app)
  server = await buildServer(app, { live })
  base = (await server.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1')
  const users = new Users(app.store)
  tokens.monitor = (await users.create({ name: '监控员小李', role: 'monitor' }, 'cli')).token
  tokens.inspector = (await users.create({ name: '稽核员老王', role: 'inspector' }, 'cli')).token
  tokens.admin = (await users.create({ name: '管理员', role: 'admin' }, 'cli')).token
  await feed([...Array.from({ length: 40 }, (_, i) => person(i, 'A')).flat(), ...extras()])
  mkdirSync(OUT, { recursive: true })
  browser = await launchConsoleBrowser()
  ctx = browser.ctx
}, 240_000)

afterAll(async () => closeConsoleTest({ browser, server, app }))

// The test compiles without DOM types: read the page through locators and attributes.
const attrs = async (page: Page, selector: string, name: string): Promise<string[]> =>
  Promise.all((await page.locator(selector).all()).map(async (l) => (await l.getAttribute(name)) ?? ''))
const rowIds = (page: Page) => attrs(page, '#feed tbody tr', 'data-id')
const row = (page: Page, id: string) => page.locator(`#feed tbody tr[data-id="${id}"]`)
/** WCAG contrast ratio between an element's text and what is behind it (its own background, else its parent's). */
const contrast = (page: Page, selector: string): Promise<number> => page.evaluate(`(() => {
  const el = document.querySelector(${JSON.stringify(selector)})
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number)
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4 }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]) }
  let bg = rgb(getComputedStyle(el).backgroundColor)
  for (let p = el.parentElement; bg.length === 4 && bg[3] === 0 && p; p = p.parentElement) bg = rgb(getComputedStyle(p).backgroundColor)
  const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg)
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)
})()`)
type Listed = Item & { amount_at_risk: string; refs: { feedetl_sns: string[]; setl_ids: string[] }; message: { zh: string; en: string } }
const statusOf = async (id: string) => (await apiGet<{ alert: Item }>(`/alerts/${id}`)).alert.workflow.status

describe('review console in Chromium', () => {
  let monitor: Page
  let inspector: Page
  let decided = ''

  it('logs a monitor in with the token form and shows the feed with masked personal data', async () => {
    monitor = await ctx.newPage()
    await monitor.goto(`${base}/`)
    await monitor.fill('#token', tokens.monitor)
    await monitor.press('#token', 'Enter')
    await monitor.waitForSelector('#feed tbody tr')
    expect(await monitor.textContent('.top .who')).toContain('监控员小李')
    const all = await apiGet<{ alerts: Item[] }>('/alerts?limit=500&status=new,first_review,second_review,appeal,investigation', 'monitor')
    expect(all.alerts.length).toBeGreaterThan(20)
    expect((await rowIds(monitor)).sort()).toEqual(all.alerts.map((a) => a.alert_id).sort())
    // zh-CN first
    expect(await monitor.textContent('.nav')).toContain('预警列表')
    expect(await monitor.textContent('#feed thead')).toContain('涉嫌违规金额')
    const body = await monitor.textContent('body')
    for (const n of NAMES) expect(body).not.toContain(n)
  })

  it('filters the feed by detector and institution', async () => {
    await monitor.waitForSelector('select[name=detector] option[value="restricted-item"]', { state: 'attached' })
    await monitor.selectOption('select[name=detector]', 'restricted-item')
    await monitor.waitForURL(/detector=restricted-item/)
    await monitor.waitForSelector('#feed tbody tr')
    const expected = await apiGet<{ alerts: Item[] }>('/alerts?limit=500&detector=restricted-item&status=new,first_review,second_review,appeal,investigation', 'monitor')
    expect(expected.alerts.length).toBeGreaterThan(3)
    expect((await rowIds(monitor)).sort()).toEqual(expected.alerts.map((a) => a.alert_id).sort())
    await monitor.fill('input[name=fixmedins_code]', H1)
    await monitor.press('input[name=fixmedins_code]', 'Enter')
    await monitor.waitForURL(/fixmedins_code=H11010500001/)
    const narrowed = expected.alerts.filter((a) => a.subject.fixmedins_code === H1).map((a) => a.alert_id).sort()
    await expect.poll(() => monitor.locator('#feed tbody tr').count()).toBe(narrowed.length)
    expect(narrowed.length).toBeGreaterThan(0)
    expect(narrowed.length).toBeLessThan(expected.alerts.length)
    expect((await rowIds(monitor)).sort()).toEqual(narrowed)
    await monitor.click('text=重置')
    await monitor.waitForURL((u) => !u.search.includes('detector'))
  })

  it('takes detection dates as yyyy-mm-dd in the Chinese console and shows no value-looking placeholder (issue 15)', async () => {
    // 统筹区 is empty until typed into: its grey hint must not look like a region code.
    expect(await monitor.getAttribute('input[name=admdvs]', 'placeholder')).not.toMatch(/\d/)
    for (const k of ['from', 'to']) expect(await monitor.getAttribute(`input[name=${k}]`, 'placeholder')).toBe('yyyy-mm-dd')
    await monitor.locator('.filters').screenshot({ path: join(OUT, 'console-filters.png') })
    await monitor.fill('input[name=from]', '2026-3-2')
    await monitor.press('input[name=from]', 'Enter')
    await monitor.waitForURL(/from=2026-03-02/)
    expect(await monitor.inputValue('input[name=from]')).toBe('2026-03-02')
    // A day that does not exist is refused on the spot, not sent.
    await monitor.fill('input[name=to]', '2026-02-30')
    await monitor.press('input[name=to]', 'Enter')
    expect(await monitor.evaluate(`document.querySelector('input[name=to]').validity.valid`)).toBe(false)
    expect(monitor.url()).not.toContain('to=')
    await monitor.click('text=重置')
    await monitor.waitForURL((u) => !u.search.includes('from'))
    await monitor.waitForSelector('#feed tbody tr.cursor')
  })

  it('shows the keyboard help with one close button (issue 15)', async () => {
    await monitor.keyboard.press('?')
    await monitor.waitForSelector('.dialog .help-grid')
    const buttons = monitor.locator('.dialog button')
    expect(await buttons.count()).toBe(1)
    expect(await buttons.textContent()).toBe('关闭')
    await monitor.locator('.dialog').screenshot({ path: join(OUT, 'console-help.png') })
    await buttons.click()
    await monitor.locator('.dialog').waitFor({ state: 'detached' })
  })

  it('triages from the keyboard: j moves, c confirms into 初审, d dismisses with a reason', async () => {
    await monitor.waitForSelector('#feed tbody tr.cursor')
    const ids = await rowIds(monitor)
    await monitor.keyboard.press('j')
    const second = ids[1]!
    expect(await monitor.getAttribute('#feed tbody tr.cursor', 'data-id')).toBe(second)
    await monitor.keyboard.press('c')
    await row(monitor, second).filter({ hasText: '初审' }).waitFor()
    expect(await statusOf(second)).toBe('first_review')
    // The cursor moved on to the next alert; dismiss that one.
    const third = await monitor.getAttribute('#feed tbody tr.cursor', 'data-id')
    expect(third).toBe(ids[2])
    await monitor.keyboard.press('d')
    await monitor.waitForSelector('.dialog select[name=preset]')
    await monitor.selectOption('.dialog select[name=preset]', 'justified')
    await monitor.fill('.dialog textarea[name=reason]', '病历记载有指征')
    await monitor.click('.dialog button[type=submit]')
    // Dismissed alerts leave the open queue and are not shown again.
    await row(monitor, third!).waitFor({ state: 'detached' })
    const detail = await apiGet<{ alert: Item & { workflow: { dismiss_reason: string } } }>(`/alerts/${third}`)
    expect(detail.alert.workflow.status).toBe('dismissed')
    expect(detail.alert.workflow.dismiss_reason).toContain('病历记载有指征')
  })

  it('shows alerts arriving over SSE without a reload, once each', async () => {
    const before = new Set(await rowIds(monitor))
    await monitor.evaluate('window.fwMarker = 1')
    const fresh = Array.from({ length: 3 }, (_, i) => person(100 + i * 4, 'B')).flat()
    await feed(fresh)
    const expected = (await apiGet<{ alerts: Item[] }>('/alerts?limit=500', 'monitor')).alerts.filter((a) => a.subject.psn_no?.startsWith('PSNB')).map((a) => a.alert_id)
    expect(expected.length).toBeGreaterThan(0)
    for (const id of expected) await row(monitor, id).waitFor()
    // Same events again: the same alert ids, and still one row each.
    await feed(fresh)
    await monitor.waitForTimeout(500)
    const after = await rowIds(monitor)
    expect(after.length).toBe(new Set(after).size)
    expect(after.filter((id) => !before.has(id)).sort()).toEqual([...expected].sort())
    // Still the same page: the rows came over the stream, not from a reload.
    expect(await monitor.evaluate('window.fwMarker')).toBe(1)
    // Let the arrival highlight fade before the picture.
    await monitor.waitForTimeout(2600)
    await monitor.screenshot({ path: join(OUT, 'console-feed.png') })
  })

  it('slides arrivals in at the top of a newest-first list read from its top; otherwise the bar counts every one (issue 15)', async () => {
    const arrived = async (tag: string) => (await apiGet<{ alerts: Item[] }>('/alerts?limit=500', 'monitor')).alerts.filter((a) => a.subject.psn_no?.startsWith(`PSN${tag}`)).map((a) => a.alert_id)
    // i % 4 === 1: each of these people is billed the same drug twice, a duplicate-charge alert each.
    const people = (tag: string, n: number) => Array.from({ length: n }, (_, i) => person(201 + i * 4, tag)).flat()
    const bar = monitor.locator('.newbar')
    await monitor.evaluate('window.scrollTo(0, 0)')
    await feed(people('C', 2))
    const c = await arrived('C')
    expect(c).toHaveLength(2)
    for (const id of c) await row(monitor, id).waitFor()
    expect(await bar.isHidden()).toBe(true)
    // Scrolled down to read: nothing moves; the bar says how many wait, and stays true as more come.
    await monitor.evaluate('window.scrollTo(0, 300)')
    expect(await monitor.evaluate('window.scrollY')).toBeGreaterThan(100)
    await feed(people('D', 3))
    const d = await arrived('D')
    expect(d).toHaveLength(3)
    await bar.filter({ hasText: /^3 条新预警 · n$/ }).waitFor()
    await feed(people('E', 4))
    expect(await arrived('E')).toHaveLength(4)
    await bar.filter({ hasText: /^7 条新预警 · n$/ }).waitFor()
    const waiting = [...d, ...(await arrived('E'))]
    for (const id of waiting) expect(await row(monitor, id).count()).toBe(0)
    // In sight of the reader scrolled down, who is the one it is for.
    expect(await bar.isVisible()).toBe(true)
    const box = (await bar.boundingBox())!
    expect(box.y).toBeGreaterThanOrEqual(0)
    expect(box.y + box.height).toBeLessThanOrEqual(900)
    await monitor.screenshot({ path: join(OUT, 'console-feed-newbar.png') })
    // n lets them in at the top, where the reader is taken; the bar goes.
    await monitor.keyboard.press('n')
    for (const id of waiting) await row(monitor, id).waitFor()
    expect(await bar.isHidden()).toBe(true)
    expect(await monitor.evaluate('window.scrollY')).toBe(0)
    expect((await rowIds(monitor)).slice(0, waiting.length).sort()).toEqual([...waiting].sort())
    // Back at the top of a newest-first list, arrivals slide straight in again.
    await feed(people('F', 1))
    const f = await arrived('F')
    await row(monitor, f[0]!).waitFor()
    expect(await bar.isHidden()).toBe(true)
    const ids = await rowIds(monitor)
    expect(ids.length).toBe(new Set(ids).size)
  })

  it('logs an inspector in from a ?token= URL and takes the token out of the address bar', async () => {
    inspector = await ctx.newPage()
    await inspector.goto(`${base}/?token=${tokens.inspector}`)
    await inspector.waitForSelector('#feed tbody tr')
    expect(inspector.url()).not.toContain('token')
    expect(await inspector.evaluate("sessionStorage.getItem('fw.token')")).toBe(tokens.inspector)
    expect(await inspector.textContent('.top .who')).toContain('稽核员老王')
  })

  it('opens an alert with its claim lines, confirms it and moves it through 初审, 复审, 申诉, 调查核实 to 违规处理', async () => {
    const target = (await apiGet<{ alerts: Item[] }>(`/alerts?limit=500&detector=over-standard-charge&status=new`)).alerts[0]!
    expect(target).toBeDefined()
    await inspector.goto(`${base}/?detector=over-standard-charge`)
    await row(inspector, target.alert_id).waitFor()
    const order = await rowIds(inspector)
    decided = target.alert_id
    await inspector.click(`#feed tr[data-id="${target.alert_id}"] td.title a`)
    await inspector.waitForSelector('#workflow')
    expect(inspector.url()).toBe(`${base}/alerts/${target.alert_id}`)
    // The lines behind the alert, the cited ones highlighted.
    const flagged = await attrs(inspector, '#timeline tr.ref[data-sn]', 'data-sn')
    expect(flagged).toEqual(expect.arrayContaining(target.refs.feedetl_sns))
    expect(await inspector.locator('#timeline tbody tr').count()).toBeGreaterThan(flagged.length)
    expect(await inspector.textContent('#evidence')).toContain('政策依据')
    // Masked until a purpose is stated.
    const masked = await inspector.textContent('#psn-name')
    expect(NAMES).not.toContain(masked)

    const reached = async (to: string, zh: string) => {
      await inspector.locator('#status').filter({ hasText: new RegExp(`^${zh}$`) }).waitFor()
      expect(await statusOf(target.alert_id)).toBe(to)
    }
    // c confirms one step on; e offers the other steps open from 复审 (the institution's appeal).
    await inspector.click('#confirm')
    await reached('first_review', '初审')
    await inspector.keyboard.press('c')
    await reached('second_review', '复审')
    await inspector.keyboard.press('e')
    await inspector.selectOption('.dialog select[name=to]', 'appeal')
    await inspector.click('.dialog button[type=submit]')
    await reached('appeal', '申诉')
    await inspector.click('#confirm')
    await reached('investigation', '调查核实')
    await inspector.click('#confirm')
    await inspector.fill('.dialog input[name=recovered_amount]', '120.00')
    await inspector.fill('.dialog input[name=measures]', '追回基金，约谈机构负责人')
    await inspector.click('.dialog button[type=submit]')
    await inspector.locator('#status').filter({ hasText: /^违规处理$/ }).waitFor()
    const done = await apiGet<{ alert: Item & { workflow: { decision: { recovered_amount: string; measures: string } } }; history: { to: string; role: string }[] }>(`/alerts/${target.alert_id}`)
    expect(done.alert.workflow.status).toBe('decided')
    expect(done.alert.workflow.decision).toMatchObject({ recovered_amount: '120.00', measures: '追回基金，约谈机构负责人' })
    expect(done.history.map((x) => x.to).sort()).toEqual(['appeal', 'decided', 'first_review', 'investigation', 'second_review'])
    expect(done.history.every((x) => x.role === 'inspector')).toBe(true)
    expect(await inspector.locator('#history li').count()).toBe(5)
    await inspector.locator('.toast').waitFor({ state: 'detached' })
    await inspector.screenshot({ path: join(OUT, 'console-alert.png'), fullPage: true })
    // Esc goes back to the same filtered list; the decided alert has left the open queue and the cursor is on the one after it.
    const listed = (await apiGet<{ alerts: Item[] }>(`/alerts?limit=500&detector=over-standard-charge&status=new,first_review,second_review,appeal,investigation`)).alerts.map((a) => a.alert_id)
    await inspector.keyboard.press('Escape')
    await inspector.waitForURL(`${base}/?detector=over-standard-charge`)
    await row(inspector, listed[0]!).waitFor()
    expect(await rowIds(inspector)).not.toContain(target.alert_id)
    expect((await rowIds(inspector)).sort()).toEqual([...listed].sort())
    const after = order.slice(order.indexOf(target.alert_id) + 1).find((id) => listed.includes(id)) ?? order.filter((id) => listed.includes(id)).at(-1)
    expect(await inspector.getAttribute('#feed tbody tr.cursor', 'data-id')).toBe(after)
  })

  it('shows "—" and the reason, not ¥0.00, for an identity-misuse alert before settlement, and a legible c hint (issue 15)', async () => {
    const im = (await apiGet<{ alerts: Listed[] }>('/alerts?limit=500&detector=identity-misuse')).alerts
    expect(im).toHaveLength(1)
    // The data: the rule counts what the insurance paid, and nothing is settled yet.
    expect(im[0]!.amount_at_risk).toBe('0.00')
    expect(im[0]!.refs.setl_ids).toEqual([])
    const id = im[0]!.alert_id
    await inspector.goto(`${base}/?detector=identity-misuse`)
    const cell = row(inspector, id).locator('td.amount')
    await cell.waitFor()
    expect(await cell.textContent()).toBe('—')
    expect(await cell.locator('span').getAttribute('title')).toContain('尚未结算')
    await inspector.click(`#feed tr[data-id="${id}"] td.title a`)
    await inspector.waitForSelector('#workflow')
    const amount = await inspector.textContent('#amount')
    expect(amount).not.toContain('¥')
    expect(amount).toContain('—')
    expect(amount).toContain('尚未结算')
    // 确认 → 初审 with its key: the hint on the filled button is readable.
    expect(await inspector.textContent('#confirm kbd')).toBe('c')
    expect(await contrast(inspector, '#confirm kbd')).toBeGreaterThan(3)
    await inspector.screenshot({ path: join(OUT, 'console-amount.png') })
  })

  it('writes an open age bound as 18岁及以上 / 18 and over, and English counts with plurals (issue 15)', async () => {
    const found = (await apiGet<{ alerts: Listed[] }>('/alerts?limit=500&detector=restricted-item')).alerts.filter((a) => a.subject.psn_no === 'PSNX00001')
    expect(found).toHaveLength(1)
    await inspector.goto(`${base}/alerts/${found[0]!.alert_id}`)
    await inspector.waitForSelector('#workflow')
    expect(await inspector.textContent('body')).toContain('限18岁及以上使用')
    expect(await inspector.textContent('body')).not.toContain('∞')
    await inspector.click('#lang')
    await inspector.locator('#timeline header', { hasText: 'visit' }).waitFor()
    expect(await inspector.textContent('body')).toContain('restricted to ages 18 and over')
    // One visit, two fee lines, no settlement.
    expect(await inspector.textContent('#timeline header')).toContain('1 visit · 2 fee lines · 0 settlements')
    await inspector.screenshot({ path: join(OUT, 'console-alert-en.png'), fullPage: true })
    await inspector.click('#lang')
    await inspector.locator('#timeline header', { hasText: '1 次就诊 · 2 条费用明细 · 0 次结算' }).waitFor()
  })

  it('names every evidence key and enumerated value in Chinese and in English (issue 15)', async () => {
    const dup = (await apiGet<{ alerts: Listed[] }>('/alerts?limit=500&detector=duplicate-charge')).alerts[0]!
    await inspector.goto(`${base}/alerts/${dup.alert_id}`)
    await inspector.waitForSelector('#evidence tr[data-key="rule"]')
    const rule = inspector.locator('#evidence tr[data-key="rule"]')
    expect(await rule.locator('th').textContent()).toContain('规则')
    expect(await rule.locator('td').textContent()).toBe('同一项目同一时间重复计费')
    expect(await inspector.textContent('#evidence tr[data-key="times_billed"] th')).toContain('计费次数')
    expect(await inspector.textContent('#evidence tr[data-key="kept_feedetl_sn"] th')).toContain('保留的明细')
    expect(await inspector.textContent('#evidence tr[data-key="duplicate_feedetl_sns"] th')).toContain('重复的明细')
    // No key shown only raw, at the top or inside a nested fact.
    expect(await inspector.locator('#evidence th > span.mono').count()).toBe(0)
    const nested = await inspector.locator('#evidence .evidence-obj > span > span.faint').allTextContents()
    expect(nested.length).toBeGreaterThan(0)
    for (const n of nested) expect(n.trim()).not.toMatch(/^[a-z_]+$/)
    await inspector.locator('#evidence').screenshot({ path: join(OUT, 'console-evidence.png') })
    await inspector.click('#lang')
    await rule.locator('td', { hasText: 'same item billed twice at the same time' }).waitFor()
    expect(await inspector.textContent('#evidence tr[data-key="times_billed"] th')).toContain('times billed')
    await inspector.locator('#evidence').screenshot({ path: join(OUT, 'console-evidence-en.png') })
    await inspector.click('#lang')
    await rule.locator('td', { hasText: '同一项目同一时间重复计费' }).waitFor()
  })

  it('shows personal data to an inspector who states a purpose', async () => {
    // A console path loaded directly (a bookmark, a reload) opens the same screen.
    await inspector.goto(`${base}/alerts/${decided}`)
    await inspector.locator('#psn-name').waitFor()
    expect(await inspector.textContent('#psn-name')).toContain('*')
    await inspector.fill('#purpose', '核查示例市第二人民医院违规收费线索')
    await inspector.press('#purpose', 'Enter')
    await inspector.waitForSelector('.purpose-bar.active')
    await expect.poll(() => inspector.textContent('#psn-name')).not.toContain('*')
    expect(NAMES).toContain(await inspector.textContent('#psn-name'))
    expect(await inspector.textContent('#certno')).toMatch(/^\d{17}[\dX]$/)
  })

  let caseId = ''
  let caseAlerts: string[] = []
  it('creates a case from alerts selected in the feed', async () => {
    await inspector.goto(`${base}/?fixmedins_code=${H1}`)
    await inspector.waitForSelector('#feed tbody tr.cursor')
    const ids = await rowIds(inspector)
    expect(ids.length).toBeGreaterThan(3)
    // x picks the row under the cursor; j moves on.
    for (let i = 0; i < 3; i++) {
      await inspector.keyboard.press('x')
      await inspector.keyboard.press('j')
    }
    caseAlerts = ids.slice(0, 3)
    await inspector.click('#create-case')
    await inspector.waitForSelector('.dialog input[name=title]')
    expect(await inspector.inputValue('.dialog input[name=subject]')).toBe(H1)
    await inspector.fill('.dialog input[name=title]', '示例市第二人民医院 违规收费专项核查')
    await inspector.click('.dialog button[type=submit]')
    await inspector.waitForURL(/\/cases\/[\w-]+$/)
    await inspector.waitForSelector('#case-title')
    caseId = inspector.url().split('/cases/')[1]!
    const c = await apiGet<{ case: { alert_ids: string[]; subject: { kind: string; fixmedins_code: string }; title: string } }>(`/cases/${caseId}`)
    expect(c.case.alert_ids.sort()).toEqual([...caseAlerts].sort())
    expect(c.case.subject).toMatchObject({ kind: 'institution', fixmedins_code: H1 })
    expect(await inspector.textContent('#case-alerts')).toBe('3')
    expect(await inspector.locator('#case-alert-list tbody tr').count()).toBe(3)
    await inspector.locator('.toast').waitFor({ state: 'detached' })
    await inspector.screenshot({ path: join(OUT, 'console-case.png'), fullPage: true })
  })

  it('downloads the evidence pack, whose manifest hashes match its files', async () => {
    const [download] = await Promise.all([
      inspector.waitForEvent('download'),
      (async () => {
        await inspector.click('#download-evidence')
        await inspector.waitForSelector('.dialog input[name=purpose]')
        // Prefilled with the purpose stated for this session.
        expect(await inspector.inputValue('.dialog input[name=purpose]')).toBe('核查示例市第二人民医院违规收费线索')
        await inspector.click('.dialog button[type=submit]')
      })(),
    ])
    expect(download.suggestedFilename()).toBe(`case-${caseId}.zip`)
    const files = unzipSync(new Uint8Array(readFileSync((await download.path())!)))
    const manifest = JSON.parse(strFromU8(files['manifest.json']!)) as { case_id: string; purpose: string; files: { name: string; bytes: number; sha256: string }[] }
    expect(manifest.case_id).toBe(caseId)
    expect(manifest.purpose).toBe('核查示例市第二人民医院违规收费线索')
    expect(manifest.files.map((f) => f.name).sort()).toEqual(['case.json', 'lines.csv', 'lines.xlsx', 'report.html'])
    for (const f of manifest.files) {
      const bytes = files[f.name]
      expect(bytes, f.name).toBeDefined()
      expect(bytes!.byteLength).toBe(f.bytes)
      expect(createHash('sha256').update(bytes!).digest('hex'), f.name).toBe(f.sha256)
    }
    const caseJson = JSON.parse(strFromU8(files['case.json']!)) as { alerts: { alert_id: string }[] }
    expect(caseJson.alerts.map((a) => a.alert_id).sort()).toEqual([...caseAlerts].sort())
    // The export is on record with who and why.
    const log = await apiGet<{ entries: { action: string; purpose: string; user_name: string }[] }>(`/access-log?object_id=${caseId}`, 'admin')
    expect(log.entries.filter((e) => e.action === 'export')).toEqual([expect.objectContaining({ purpose: '核查示例市第二人民医院违规收费线索', user_name: '稽核员老王' })])
  })

  it('switches to English', async () => {
    await inspector.click('#lang')
    await inspector.locator('#download-evidence', { hasText: 'Download evidence pack' }).waitFor()
    expect(await inspector.textContent('.nav')).toContain('Alerts')
    await inspector.screenshot({ path: join(OUT, 'console-case-en.png') })
    await inspector.click('#lang')
    await inspector.locator('.nav', { hasText: '预警列表' }).waitFor()
  })

  it('shows the detector catalog with review outcomes and the institution ranking', async () => {
    // A 1600 px window, every detector opened: nothing runs past the right edge, 场景 are in Chinese.
    await inspector.setViewportSize({ width: 1600, height: 900 })
    await inspector.click('.nav a[href="/detectors"]')
    await inspector.waitForSelector('#detectors tbody tr')
    for (const line of await inspector.locator('#detectors tbody tr[data-id]').all()) await line.click()
    expect(await inspector.locator('#detectors tr.more.hidden').count()).toBe(0)
    expect(await inspector.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1600)
    const opened = await inspector.textContent('#detectors tr.more[data-more="restricted-item"]')
    expect(opened).toContain('场景：门诊、住院')
    expect(opened).not.toMatch(/outpatient|inpatient|pharmacy/)
    // Parameter descriptions in Chinese too (the schema carries both).
    const params = await inspector.textContent('#detectors tr.more[data-more="identity-misuse"] table.params')
    expect(params).toContain('最快的合理门到门速度')
    expect(params).not.toContain('Fastest plausible')
    await inspector.locator('#detectors tr[data-id="identity-misuse"]').scrollIntoViewIfNeeded()
    await inspector.locator('#detectors tr.more[data-more="identity-misuse"]').screenshot({ path: join(OUT, 'console-detector-params.png') })
    const over = await inspector.textContent('#detectors tr[data-id="over-standard-charge"]')
    // The over-standard-charge alert decided above counts as confirmed; the precision shown is the API's.
    const stats = (await apiGet<{ detector: { stats: { confirmed: number; precision: number | null } } }>('/detectors/over-standard-charge')).detector.stats
    expect(stats.confirmed).toBe(1)
    expect(over).toContain(`${(stats.precision! * 100).toFixed(1)}%`)
    await inspector.screenshot({ path: join(OUT, 'console-detectors.png'), fullPage: true })
    await inspector.setViewportSize({ width: 1440, height: 900 })
    await inspector.click('.nav a[href="/institutions"]')
    await inspector.waitForSelector('#ranking tbody tr')
    const codes = await attrs(inspector, '#ranking tbody tr', 'data-id')
    expect(codes.sort()).toEqual([H1, H2, H3].sort())
    await inspector.screenshot({ path: join(OUT, 'console-ranking.png') })
  })

  it('still says how many alerts it could not show whole, and shows the rest (degraded alerts)', async () => {
    const good = (await apiGet<{ alerts: Listed[] }>('/alerts?limit=500&detector=duplicate-charge')).alerts[0]!
    const [stored] = await alertsById(app.store, [good.alert_id])
    const badId = 'f'.repeat(32)
    // A row written by something other than this version: its institution code is not one.
    await app.store.insert('alerts', [{ ...alertRow({ ...stored!.alert, alert_id: badId }, '110105'), fixmedins_code: 'NOT-A-CODE' }])
    const page = await ctx.newPage()
    await page.goto(`${base}/?token=${tokens.monitor}`)
    await page.waitForSelector('#feed tbody tr')
    await page.locator('.toast.err', { hasText: `1 条预警的数据无法完整显示，已记录于服务器日志: ${badId}` }).waitFor()
    expect(await page.locator(`#feed tbody tr[data-id="${badId}"]`).count()).toBe(0)
    expect(await page.locator('#feed tbody tr').count()).toBeGreaterThan(20)
    await page.goto(`${base}/alerts/${badId}`)
    expect(await page.locator('#degraded').textContent()).toContain(badId)
    await page.close()
  })

  it('shows the first feed rows within the budget, and records the timings (issue 15)', async () => {
    // Measured on this machine (2 shared cores, chDB embedded, ~60 alerts): first
    // rows 0.3–0.65 s after navigation, the feed call ≈ 0.1 s. The budgets leave
    // room for a loaded CI box while still failing on the 6–8 s of issue 15.
    const BUDGET = { first_rows_ms: 2000, feed_call_ms: 1000 }
    const page = await ctx.newPage()
    await page.goto(`${base}/?token=${tokens.monitor}`)
    await page.waitForSelector('#feed tbody tr')
    const firstRows = Number(await page.evaluate('performance.now()'))
    const feedCall = Number(await page.evaluate(`performance.getEntriesByType('resource').find((e) => e.name.includes('/api/v1/alerts?'))?.duration ?? -1`))
    await page.close()
    const timings = { first_rows_ms: Math.round(firstRows), feed_call_ms: Math.round(feedCall), budget: BUDGET, at: new Date().toISOString() }
    writeFileSync(join(OUT, 'console-timings.json'), `${JSON.stringify(timings, null, 2)}\n`)
    expect(feedCall).toBeGreaterThan(0)
    expect(timings.first_rows_ms).toBeLessThanOrEqual(BUDGET.first_rows_ms)
    expect(timings.feed_call_ms).toBeLessThanOrEqual(BUDGET.feed_call_ms)
  })
})
