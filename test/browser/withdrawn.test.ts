// Alerts follow the facts (issue 9), in Debian's Chromium against a real server
// on real chDB: a drug billed twice raises a duplicate-charge alert through the
// pipeline; the hospital reverses the second line; the console greys the alert
// on screen at once (live), leaves it out of the default feed, shows it on
// request and explains the withdrawal on the alert page. Screenshots go to test-output/.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AnyEvent } from '../../schemas/index.ts'
import { buildServer, createLiveFeed, type LiveFeed } from '../../src/api/server.ts'
import { Users } from '../../src/auth/users.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { AMOXICILLIN_HOSPITAL, amoxicillinKb, buildConsole, closeConsoleTest, launchConsoleBrowser, onMarch2, TEST_OUTPUT } from '../helpers/browser.ts'
import { feeReversed, feeUploaded, visitOpened } from '../helpers/detect.ts'

const OUT = TEST_OUTPUT
const H1 = AMOXICILLIN_HOSPITAL
const kb = amoxicillinKb()
const at = onMarch2

/** A visit whose amoxicillin line is billed `times` times (a duplicate-charge alert). */
function billedTwice(psn_no: string, n: number, times = 2): AnyEvent[] {
  const mdtrt_id = `MDTW${n}`
  const line = (k: number) => ({ feedetl_sn: `${mdtrt_id}-${k}`, fee_ocur_time: at(10, n), med_list_codg: 'DRUG-AMX', list_type: 'drug' as const, med_chrgitm_type: '09', cnt: '2', pric: `${20 + n}.50` })
  return [
    visitOpened({ event_id: `w-open-${n}`, mdtrt_id, psn_no, begntime: at(9, n), med_type: '11', fixmedins_code: H1 }),
    feeUploaded({ event_id: `w-fee-${n}`, mdtrt_id, psn_no, fixmedins_code: H1, lines: Array.from({ length: times }, (_, k) => line(k + 1)) }),
  ]
}
const REVERSAL = feeReversed({ event_id: 'w-rev-1', mdtrt_id: 'MDTW1', psn_no: 'PSNW00001', feedetl_sns: ['MDTW1-2'], time: at(10, 20), fixmedins_code: H1 })

let app: TestApp
let server: FastifyInstance
let live: LiveFeed
let base = ''
let ctx: BrowserContext
let browser: Awaited<ReturnType<typeof launchConsoleBrowser>> | undefined
let token = ''
const ids = { reversed: '', standing: '' }

async function feed(events: AnyEvent[]): Promise<void> {
  await app.pipeline({ alertSinks: [live.sink] }).run(generatorSource(events, { batchSize: 50 }), new AbortController().signal)
}
async function apiGet<T>(path: string): Promise<T> {
  const res = await server.inject({ method: 'GET', url: `/api/v1${path}`, headers: { authorization: `Bearer ${token}` } })
  expect(res.statusCode, res.body).toBe(200)
  return res.json() as T
}

beforeAll(async () => {
  await buildConsole()
  app = await testApp({ kb })
  live = createLiveFeed(app)
  server = await buildServer(app, { live })
  base = (await server.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1')
  token = (await new Users(app.store).create({ name: '监控员小李', role: 'monitor' }, 'cli')).token
  await feed([...billedTwice('PSNW00001', 1), ...billedTwice('PSNW00002', 2)])
  for (const [k, psn] of [['reversed', 'PSNW00001'], ['standing', 'PSNW00002']] as const) {
    const { alerts } = await apiGet<{ alerts: { alert_id: string }[] }>(`/alerts?detector=duplicate-charge&psn_no=${psn}`)
    expect(alerts).toHaveLength(1)
    ids[k] = alerts[0]!.alert_id
  }
  mkdirSync(OUT, { recursive: true })
  browser = await launchConsoleBrowser()
  ctx = browser.ctx
}, 240_000)

afterAll(async () => closeConsoleTest({ browser, server, app }))

const row = (page: Page, id: string) => page.locator(`#feed tbody tr[data-id="${id}"]`)
const rowIds = async (page: Page) => Promise.all((await page.locator('#feed tbody tr').all()).map(async (l) => (await l.getAttribute('data-id')) ?? ''))

describe('withdrawn alerts in the console', () => {
  let page: Page

  it('greys an alert on screen when a reversal withdraws it (live), in place', async () => {
    page = await ctx.newPage()
    await page.goto(`${base}/?token=${token}`)
    await row(page, ids.reversed).waitFor()
    await row(page, ids.standing).waitFor()
    expect(await row(page, ids.reversed).getAttribute('class')).not.toContain('withdrawn')
    await page.waitForSelector('.top .live.on')
    await page.evaluate('window.fwMarker = 1')

    await feed([REVERSAL])
    await page.waitForSelector(`#feed tbody tr.withdrawn[data-id="${ids.reversed}"]`)
    expect(await row(page, ids.reversed).locator('.tag[data-lifecycle=withdrawn]').textContent()).toBe('已撤回')
    expect(await row(page, ids.standing).getAttribute('class')).not.toContain('withdrawn')
    // Updated over the stream, not by a reload; the row stayed where it was.
    expect(await page.evaluate('window.fwMarker')).toBe(1)
    expect(await rowIds(page)).toEqual([ids.standing, ids.reversed])
  })

  it('leaves the withdrawn alert out of the default feed; the filter shows it greyed and round-trips in the URL', async () => {
    await page.goto(`${base}/`)
    await row(page, ids.standing).waitFor()
    expect(await rowIds(page)).toEqual([ids.standing])
    expect(await page.inputValue('select[name=lifecycle]')).toBe('')

    await page.selectOption('select[name=lifecycle]', 'all')
    await page.waitForURL(/lifecycle=all/)
    await row(page, ids.reversed).waitFor()
    expect(await rowIds(page)).toEqual([ids.standing, ids.reversed])
    expect(await row(page, ids.reversed).getAttribute('class')).toContain('withdrawn')
    expect(await row(page, ids.standing).getAttribute('class')).not.toContain('withdrawn')
    expect(await row(page, ids.reversed).locator('.tag.withdrawn').getAttribute('title')).toBe('所依据的费用明细、结算或就诊已冲销、撤销或更正')
    await page.screenshot({ path: join(OUT, 'console-withdrawn-feed.png') })

    await page.selectOption('select[name=lifecycle]', 'withdrawn')
    await page.waitForURL(/lifecycle=withdrawn/)
    await expect.poll(() => rowIds(page)).toEqual([ids.reversed])
    // A reload (or a link sent to a colleague) opens the same view.
    await page.reload()
    await row(page, ids.reversed).waitFor()
    expect(await page.inputValue('select[name=lifecycle]')).toBe('withdrawn')
    expect(await rowIds(page)).toEqual([ids.reversed])
  })

  it('explains the withdrawal on the alert page: reason, event, time; the review can be closed with "alert withdrawn" offered first', async () => {
    await page.click(`#feed tr[data-id="${ids.reversed}"] td.title a`)
    await page.waitForSelector('#lifecycle')
    const banner = page.locator('#lifecycle')
    expect(await banner.getAttribute('data-reason')).toBe('reversed')
    expect(await banner.locator('h2').textContent()).toContain('此预警已撤回')
    expect(await page.textContent('#withdrawn-reason')).toBe('所依据的费用明细、结算或就诊已冲销、撤销或更正')
    expect(await page.textContent('#withdrawn-event')).toBe('w-rev-1')
    const { alert } = await apiGet<{ alert: { revised_at: string; revision: number } }>(`/alerts/${ids.reversed}`)
    expect(alert.revision).toBe(2)
    // Shown in China time, as every time on the page.
    expect(await page.textContent('#withdrawn-at')).toContain(new Date(Date.parse(alert.revised_at) + 8 * 3_600_000).toISOString().slice(11, 16))
    expect(await page.textContent('.headline')).toContain('已撤回')
    // The reversed line is struck through in the timeline; the review state is still shown.
    expect(await page.getAttribute('#timeline tr[data-sn="MDTW1-2"]', 'class')).toContain('reversed')
    expect(await page.textContent('#workflow #status')).toBe('待处理')
    await page.screenshot({ path: join(OUT, 'console-withdrawn-alert.png'), fullPage: true })

    await page.click('#workflow button[data-to=dismissed]')
    await page.waitForSelector('.dialog select[name=preset]')
    expect(await page.inputValue('.dialog select[name=preset]')).toBe('withdrawn')
    await page.click('.dialog button[type=submit]')
    await expect.poll(async () => page.textContent('#workflow #status')).toBe('已排除')
    const after = await apiGet<{ alert: { status: string; workflow: { status: string; dismiss_reason: string } } }>(`/alerts/${ids.reversed}`)
    expect(after.alert).toMatchObject({ status: 'withdrawn', workflow: { status: 'dismissed', dismiss_reason: '预警已撤回（所依据的事实已撤销）' } })
  })

  it('shows "revision N, updated <time>" on the page of an alert later facts changed, as soon as the revision arrives', async () => {
    // Billed three times, one copy reversed: still a duplicate, for less.
    await feed(billedTwice('PSNW00003', 3, 3))
    const { alerts } = await apiGet<{ alerts: { alert_id: string; amount_at_risk: string }[] }>('/alerts?detector=duplicate-charge&psn_no=PSNW00003')
    expect(alerts).toHaveLength(1)
    const id = alerts[0]!.alert_id
    await page.goto(`${base}/alerts/${id}`)
    await page.waitForSelector('#workflow')
    expect(await page.locator('#lifecycle').count()).toBe(0)
    await page.waitForSelector('.top .live.on')
    await feed([feeReversed({ event_id: 'w-rev-3', mdtrt_id: 'MDTW3', psn_no: 'PSNW00003', feedetl_sns: ['MDTW3-3'], time: at(10, 30), fixmedins_code: H1 })])
    await page.waitForSelector('#lifecycle[data-status=updated]')
    const { alert } = await apiGet<{ alert: { status: string; revision: number; revised_at: string; amount_at_risk: string } }>(`/alerts/${id}`)
    expect(alert).toMatchObject({ status: 'updated', revision: 2 })
    expect(alert.amount_at_risk).not.toBe(alerts[0]!.amount_at_risk)
    const hhmm = new Date(Date.parse(alert.revised_at) + 8 * 3_600_000).toISOString().slice(11, 16)
    expect(await page.textContent('#revision')).toMatch(new RegExp(`^第 2 版，.*${hhmm} 更新$`))
    expect(await page.textContent('.headline')).toContain('已更新')
    await page.locator('#lifecycle').screenshot({ path: join(OUT, 'console-updated-alert.png') })
  })
})
