// The rule analyst's bench in the console (issue 14), in Debian's Chromium
// against a real server on real chDB: an admin edits over-standard-charge's
// tolerance on the 规则目录 page, sees the server refuse an out-of-range value
// with its line, validates the fixed value and reads the diff against the rule
// base in force, backtests it over the stored March history (exactly the two
// alerts under the new tolerance disappear), applies it with a reason, finds it
// in the history and restores the earlier version — each step checked against
// what the API then has in force. A monitor sees the catalog without any edit
// control. Screenshots of each step go to test-output/rules-*.png.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { buildServer, createLiveFeed } from '../../src/api/server.ts'
import { Users } from '../../src/auth/users.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { buildConsole, closeConsoleTest, launchConsoleBrowser, onMarch2, TEST_OUTPUT } from '../helpers/browser.ts'
import { feeUploaded, institution, item, makeKb, visitOpened } from '../helpers/detect.ts'

const OUT = TEST_OUTPUT
const H1 = 'H37070200001'
const kb = makeKb({
  institutions: [institution(H1, { name: '潍坊市第一医院', level: 2, admdvs: '370702' })],
  catalog: [item('SVC-US', { name: '彩色多普勒超声常规检查', price_cap_lv1: '120.00', price_cap_lv2: '150.00', price_cap_lv3: '180.00' })],
})

/** One ultrasound a visit, priced over the level-2 cap of ¥150 by 3 %, 7 %, 13 % and 33 %. */
const PRICES = ['155.00', '160.00', '170.00', '200.00']
function visit(i: number): AnyEvent[] {
  const mdtrt_id = `MDTR${i}`
  const psn_no = `PSNR0000${i}`
  return [
    visitOpened({ event_id: `r-open-${i}`, mdtrt_id, psn_no, begntime: onMarch2(9, i), med_type: '11', fixmedins_code: H1 }),
    feeUploaded({ event_id: `r-fee-${i}`, mdtrt_id, psn_no, fixmedins_code: H1, lines: [{ feedetl_sn: `${mdtrt_id}-1`, fee_ocur_time: onMarch2(10, i), med_list_codg: 'SVC-US', pric: PRICES[i]! }] }),
  ]
}

/** The rule base in force before the analyst starts: recorded through the API, with a comment the edit must keep. */
const FIRST = `# 规则库 — 潍坊试点
version: "wf-2026-03"
detectors:
  # 潍坊 (3707) only, as a pilot of a stricter judgement.
  duplicate-charge:
    severity: high
    scope:
      admdvs: ["3707"]
`
const REASON = '依据 2026 年省医疗服务价格文件，限价容差放宽至 10%'
const REVERT_REASON = '容差调整待物价部门复核，先恢复原规则'

let app: TestApp
let server: FastifyInstance
let base = ''
let ctx: BrowserContext
let browser: Awaited<ReturnType<typeof launchConsoleBrowser>> | undefined
const tokens = { admin: '', monitor: '' }
let adminId = ''
let firstHash = ''
/** The over-standard-charge alert of each visit, by price index. */
const alertOf: string[] = []

async function call<T>(method: 'GET' | 'PUT' | 'POST', path: string, payload?: unknown, who: keyof typeof tokens = 'admin'): Promise<T> {
  const res = await server.inject({ method, url: `/api/v1${path}`, headers: { authorization: `Bearer ${tokens[who]}` }, payload: payload as object })
  expect(res.statusCode, res.body).toBeLessThan(300)
  return res.json() as T
}

interface Rules { hash: string; text: string; active: { id: string; params: Record<string, unknown> }[]; changes: { hash: string; by: string; source: string; reason: string }[] }

beforeAll(async () => {
  await buildConsole()
  app = await testApp({ kb })
  server = await buildServer(app, { live: createLiveFeed(app) })
  base = (await server.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1')
  const users = new Users(app.store)
  const admin = await users.create({ name: '规则管理员老王', role: 'admin' }, 'cli')
  tokens.admin = admin.token
  adminId = admin.user.id
  tokens.monitor = (await users.create({ name: '监控员小李', role: 'monitor' }, 'cli')).token
  firstHash = (await call<{ hash: string }>('PUT', '/rules', { text: FIRST, reason: '潍坊试点初始规则库' })).hash
  await app.pipeline().run(generatorSource(PRICES.flatMap((_, i) => visit(i)), { batchSize: 50 }), new AbortController().signal)
  for (let i = 0; i < PRICES.length; i++) {
    const { alerts } = await call<{ alerts: { alert_id: string }[] }>('GET', `/alerts?detector=over-standard-charge&psn_no=PSNR0000${i}`)
    expect(alerts).toHaveLength(1)
    alertOf.push(alerts[0]!.alert_id)
  }
  // A reviewer already judged the 3 % one a false positive (a local surcharge): the backtest weighs that.
  await call('POST', `/alerts/${alertOf[0]}/transitions`, { to: 'dismissed', version: 0, reason: '地方加收，属合理收费' }, 'monitor')
  mkdirSync(OUT, { recursive: true })
  browser = await launchConsoleBrowser()
  ctx = browser.ctx
}, 240_000)

afterAll(async () => closeConsoleTest({ browser, server, app }))

/**
 * The whole page as test-output/rules-<name>.png and, for docs/rules.md, the
 * panel the step is about as a small JPEG (test-output/rules-docs-<name>.jpg;
 * docs/img/rules/ holds copies, refreshed by hand when the console changes).
 */
async function shot(page: Page, name: string, panel: string): Promise<void> {
  await page.screenshot({ path: join(OUT, `rules-${name}.png`), fullPage: true })
  await page.locator(panel).screenshot({ path: join(OUT, `rules-docs-${name}.jpg`), type: 'jpeg', quality: 80 })
}

describe('the rule analyst in the console: edit → validate/diff → backtest → apply → revert', () => {
  let page: Page
  let appliedHash = ''

  it('opens a form built from the detector\'s parameter schema, with its descriptions, judgement, scope and mode', async () => {
    page = await ctx.newPage()
    await page.goto(`${base}/detectors?token=${tokens.admin}`)
    await page.click('#detectors tr[data-id="over-standard-charge"]')
    await page.click('button[data-edit="over-standard-charge"]')
    await page.waitForSelector('#rule-editor[data-detector="over-standard-charge"]')
    expect(page.url()).toMatch(/\/detectors\?edit=over-standard-charge$/)
    expect(await page.inputValue('input[name="param.tolerance_pct"]')).toBe('0')
    expect(await page.inputValue('input[name="param.min_excess_amount"]')).toBe('0.01')
    // The schema's own descriptions: zh on the page, en on hover.
    const desc = page.locator('#rule-params tr[data-param="tolerance_pct"] td.desc')
    expect(await desc.textContent()).toBe('超过限价仍可接受的百分比(取整、地方加收)；0 = 任何超出都算')
    expect(await desc.getAttribute('title')).toBe('Percent above the price cap still accepted (rounding, local surcharges); 0 = any excess')
    expect(await page.isChecked('input[name=mode][value=on]')).toBe(true)
    expect(await page.textContent('#rule-hash')).toBe(firstHash.slice(0, 12))
    await shot(page, '1-editor', '#rule-editor')
  })

  it('shows the server\'s refusal of an out-of-range value with the line it names, in the candidate text', async () => {
    await page.fill('input[name="param.tolerance_pct"]', '150')
    await page.click('#rule-validate')
    await page.waitForSelector('#rule-invalid')
    const message = await page.textContent('#rule-invalid')
    expect(message).toContain('tolerance_pct')
    const line = Number(await page.getAttribute('#rule-invalid', 'data-line'))
    expect(line).toBeGreaterThan(0)
    expect(await page.textContent('#rule-error-line')).toContain('tolerance_pct: 150')
    expect(await page.getAttribute('#rule-error-line', 'data-line')).toBe(String(line))
    await shot(page, '2-invalid', '#rule-editor form')
  })

  it('validates the edit and shows its difference from the rule base in force', async () => {
    await page.fill('input[name="param.tolerance_pct"]', '10')
    await page.click('#rule-validate')
    await page.waitForSelector('#rule-diff')
    const rows = page.locator('#rule-diff tbody tr')
    expect(await rows.count()).toBe(1)
    expect(await rows.first().getAttribute('data-path')).toBe('over-standard-charge:params.tolerance_pct')
    expect(await rows.first().locator('td.from').textContent()).toBe('0')
    expect(await rows.first().locator('td.to').textContent()).toBe('10')
    // Validating changed nothing in force.
    expect((await call<Rules>('GET', '/rules')).hash).toBe(firstHash)
    await shot(page, '3-diff', '#rule-editor form')
  })

  it('backtests the edit over the stored March history: exactly the alerts under the new tolerance disappear', async () => {
    await page.fill('input[name=bt-from]', '2026-03-01')
    await page.fill('input[name=bt-to]', '2026-03-31')
    await page.click('#bt-run')
    await page.waitForSelector('#bt-result', { timeout: 60_000 })
    const row = page.locator('#bt-detectors tr[data-detector="over-standard-charge"]')
    expect(await row.locator('td.baseline').textContent()).toBe('4¥85.00')
    expect(await row.locator('td.candidate').textContent()).toBe('2¥70.00')
    expect(await row.locator('td.removed').textContent()).toBe('−2¥15.00')
    expect(await row.locator('td.added').textContent()).toBe('0¥0.00')
    // Precision from the verdicts already given: the dismissed alert is one the edit drops.
    expect(await row.locator('td.precision').textContent()).toBe('0.0% (1) → —')
    const removed = await page.locator('.bt-samples[data-detector="over-standard-charge"] tr[data-kind=removed]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-alert')))
    expect(removed.sort()).toEqual([alertOf[0], alertOf[1]].sort())
    // No other detector moves.
    expect(await page.locator('#bt-detectors tbody tr[data-detector]').count()).toBe(1)
    // Nothing was applied, and the page says what it compared.
    expect((await call<Rules>('GET', '/rules')).hash).toBe(firstHash)
    expect(await page.textContent('#bt-summary')).toContain('2026-03-01 – 2026-03-31')
    expect(await page.locator('#bt-skipped').count()).toBe(0)
    await page.locator('#rule-backtest').scrollIntoViewIfNeeded()
    await shot(page, '4-backtest', '#rule-backtest')
  })

  it('applies the edit only with a reason; the rule base in force, its text and its history then say so', async () => {
    expect(await page.isDisabled('#rule-apply')).toBe(true)
    await page.fill('textarea[name=reason]', REASON)
    await page.click('#rule-apply')
    await page.waitForURL(/\/detectors$/)
    await page.waitForSelector('#rule-history')
    const rules = await call<Rules>('GET', '/rules')
    appliedHash = rules.hash
    expect(appliedHash).not.toBe(firstHash)
    // The text in force is the earlier text, comments and all, with one entry added.
    expect(rules.text).toBe(`${FIRST}  over-standard-charge:\n    mode: "on"\n    params:\n      tolerance_pct: 10\n`)
    expect(rules.active.find((a) => a.id === 'over-standard-charge')!.params).toMatchObject({ tolerance_pct: 10 })
    expect(rules.changes[0]).toMatchObject({ hash: appliedHash, by: `user:${adminId}`, reason: REASON })
    // The history on the page: newest first, the version in force marked, its reason and hash shown.
    const top = page.locator('#rule-history tbody tr').first()
    expect(await top.getAttribute('data-hash')).toBe(appliedHash)
    expect(await top.getAttribute('class')).toContain('current')
    expect(await top.locator('td.reason').textContent()).toBe(REASON)
    expect(await top.locator('td.by').textContent()).toBe('规则管理员老王')
    expect(await top.locator('td.by').getAttribute('title')).toBe(`user:${adminId}`)
    expect(await page.locator(`#rule-history button[data-revert="${appliedHash}"]`).count()).toBe(0)
    await page.click('#detectors tr[data-id="over-standard-charge"]')
    expect(await page.textContent('#detectors tr[data-more="over-standard-charge"] table.params tbody tr:first-child td:nth-child(2)')).toBe('10')
    await page.locator('#rule-history').scrollIntoViewIfNeeded()
    await shot(page, '5-applied', '#rule-history')
  })

  it('restores the earlier version with its own reason: a new entry in the history, the earlier text in force again', async () => {
    await page.click(`#rule-history button[data-revert="${firstHash}"]`)
    await page.fill('.dialog textarea[name=reason]', REVERT_REASON)
    await page.screenshot({ path: join(OUT, 'rules-6-revert-dialog.png') })
    await page.click('.dialog button[type=submit]')
    await expect.poll(async () => page.locator('#rule-history tbody tr.current').getAttribute('data-hash')).toBe(firstHash)
    const rules = await call<Rules>('GET', '/rules')
    expect(rules.hash).toBe(firstHash)
    expect(rules.text).toBe(FIRST)
    expect(rules.active.find((a) => a.id === 'over-standard-charge')!.params).toMatchObject({ tolerance_pct: 0 })
    expect(rules.changes[0]).toMatchObject({ hash: firstHash, reason: REVERT_REASON, by: `user:${adminId}` })
    // Append-only: the applied version is still there, and can itself be restored.
    expect(rules.changes.map((c) => c.hash)).toEqual([firstHash, appliedHash, firstHash])
    expect(await page.locator(`#rule-history button[data-revert="${appliedHash}"]`).count()).toBe(1)
    expect(await page.locator('#rule-history tbody tr').first().locator('td.reason').textContent()).toBe(REVERT_REASON)
    await page.locator('#rule-history').scrollIntoViewIfNeeded()
    await shot(page, '7-reverted', '#rule-history')
  })

  it('runs the detector in shadow: kept out of the feed, the catalog says what it would have raised; promoting it makes those alerts live with their ids', async () => {
    await page.goto(`${base}/detectors?edit=over-standard-charge`)
    await page.waitForSelector('#rule-editor')
    await page.check('input[name=mode][value=shadow]')
    await page.fill('textarea[name=reason]', '新限价先试运行一周')
    await page.click('#rule-apply')
    await page.waitForURL(/\/detectors$/)
    await expect.poll(async () => (await call<{ detector: { mode: string } }>('GET', '/detectors/over-standard-charge')).detector.mode).toBe('shadow')
    expect(await page.getAttribute('#detectors tr[data-id="over-standard-charge"] td.mode', 'data-mode')).toBe('shadow')

    // A new over-priced ultrasound (¥190, ¥40 over the cap) while the detector runs in shadow.
    const mdtrt_id = 'MDTR9'
    await app.pipeline().run(generatorSource([
      visitOpened({ event_id: 'r-open-9', mdtrt_id, psn_no: 'PSNR00009', begntime: onMarch2(15), med_type: '11', fixmedins_code: H1 }),
      feeUploaded({ event_id: 'r-fee-9', mdtrt_id, psn_no: 'PSNR00009', fixmedins_code: H1, lines: [{ feedetl_sn: `${mdtrt_id}-1`, fee_ocur_time: onMarch2(15, 30), med_list_codg: 'SVC-US', pric: '190.00' }] }),
    ], { batchSize: 50 }), new AbortController().signal)
    expect((await call<{ alerts: unknown[] }>('GET', '/alerts?psn_no=PSNR00009')).alerts).toHaveLength(0)

    await page.reload()
    await page.click('#detectors tr[data-id="over-standard-charge"]')
    const note = page.locator('.shadow-note[data-detector="over-standard-charge"]')
    expect(await note.locator('.would').textContent()).toBe('本应产生 1 条预警（¥40.00）')
    await note.locator('button[data-shadow]').click()
    const shadowRow = page.locator('#shadow-over-standard-charge tbody tr')
    await shadowRow.first().waitFor()
    expect(await shadowRow.count()).toBe(1)
    const shadowId = (await shadowRow.first().getAttribute('data-alert'))!
    await page.locator('#detectors tr[data-more="over-standard-charge"]').screenshot({ path: join(OUT, 'rules-docs-8-shadow.jpg'), type: 'jpeg', quality: 80 })
    await page.screenshot({ path: join(OUT, 'rules-8-shadow.png'), fullPage: true })

    await page.goto(`${base}/detectors?edit=over-standard-charge`)
    await page.waitForSelector('#rule-editor')
    expect(await page.isChecked('input[name=mode][value=shadow]')).toBe(true)
    await page.check('input[name=mode][value=on]')
    await page.fill('textarea[name=reason]', '试运行一周，结果经复核，转为正式')
    await page.click('#rule-apply')
    await page.waitForURL(/\/detectors$/)
    const { alerts } = await call<{ alerts: { alert_id: string }[] }>('GET', '/alerts?psn_no=PSNR00009')
    expect(alerts.map((a) => a.alert_id)).toEqual([shadowId])
  })

  it('labels every control in English too', async () => {
    await page.goto(`${base}/detectors?edit=over-standard-charge`)
    await page.waitForSelector('#rule-editor')
    await page.click('#lang')
    await page.waitForSelector('#rule-editor')
    expect(await page.textContent('#rule-validate')).toBe('Validate and show the difference')
    expect(await page.textContent('#rule-params tr[data-param="tolerance_pct"] td.desc')).toBe('Percent above the price cap still accepted (rounding, local surcharges); 0 = any excess')
    await shot(page, 'editor-en', '#rule-editor')
    await page.click('#lang')
  })

  it('does not apply over a version another admin recorded after the page was opened', async () => {
    await page.goto(`${base}/detectors?edit=over-standard-charge`)
    await page.waitForSelector('#rule-editor')
    await page.fill('input[name="param.tolerance_pct"]', '5')
    await page.fill('textarea[name=reason]', '容差 5%')
    // Meanwhile another admin changes the rule base.
    const other = `${FIRST}  unbundling:\n    mode: "off"\n`
    const theirs = (await call<{ hash: string }>('PUT', '/rules', { text: other, reason: '分解收费规则暂停' })).hash
    await page.click('#rule-apply')
    await page.waitForSelector('#rule-conflict:not(.hidden)')
    expect(await page.textContent('#rule-conflict')).toContain(theirs)
    expect(await page.isDisabled('#rule-apply')).toBe(true)
    // Their change stands; the stale edit was not recorded.
    const rules = await call<Rules>('GET', '/rules')
    expect(rules.hash).toBe(theirs)
    expect(rules.text).toBe(other)
  })

  it('shows a monitor the catalog without edit controls or the history', async () => {
    const p = await ctx.newPage()
    await p.goto(`${base}/detectors?token=${tokens.monitor}`)
    await p.click('#detectors tr[data-id="over-standard-charge"]')
    await p.waitForSelector('#detectors tr[data-more="over-standard-charge"]:not(.hidden)')
    expect(await p.locator('button[data-edit]').count()).toBe(0)
    expect(await p.locator('#rule-history').count()).toBe(0)
    await p.goto(`${base}/detectors?edit=over-standard-charge`)
    await p.waitForSelector('#detectors')
    expect(await p.locator('#rule-editor').count()).toBe(0)
    await p.close()
  })
})
