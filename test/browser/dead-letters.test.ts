// The rejected-records page (issue 15), in Debian's Chromium against a real
// server on real chDB: records refused by the pipeline, read by an admin.
// Screenshots go to test-output/.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildServer } from '../../src/api/server.ts'
import { Users } from '../../src/auth/users.ts'
import type { Source } from '../../src/pipeline/types.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { buildConsole, closeConsoleTest, launchConsoleBrowser, TEST_OUTPUT } from '../helpers/browser.ts'
import { institution, makeKb } from '../helpers/detect.ts'
import { mutate } from '../helpers/malformed.ts'

const OUT = TEST_OUTPUT
const H1 = 'H37070200001'

// A generated person (valid check digit, made-up digits), never a real one.
const CERTNO = '370702198805170025'
const NAME = '赵一鸣'

let app: TestApp
let server: FastifyInstance
let base = ''
let ctx: BrowserContext
let browser: Awaited<ReturnType<typeof launchConsoleBrowser>> | undefined
const tokens: Record<'admin' | 'monitor', string> = { admin: '', monitor: '' }

async function refuse(records: [Buffer, string][], at: string): Promise<void> {
  const source: Source = { name: 'test', async *batches() { yield { records: records.map(([value, pos]) => ({ value, pos, owner: 'test' })) } } }
  await app.pipeline({ now: () => Date.parse(at) }).run(source, new AbortController().signal)
}

beforeAll(async () => {
  await buildConsole()
  app = await testApp({ kb: makeKb({ institutions: [institution(H1, { name: '潍坊市第一医院', level: 2, admdvs: '370702' })] }) })
  server = await buildServer(app)
  base = (await server.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1')
  const users = new Users(app.store)
  tokens.admin = (await users.create({ name: '管理员', role: 'admin' }, 'cli')).token
  tokens.monitor = (await users.create({ name: '监控员小李', role: 'monitor' }, 'cli')).token
  const today = new Date().toISOString()
  const yesterday = new Date(Date.now() - 86_400_000).toISOString()
  const twoProblems = mutate('visit.opened', (e) => {
    e.event_id = 'dlq-browser-1'
    e.payload.psn_no = 12345
    e.payload.begntime = 'yesterday'
    e.payload.psn = { ...e.payload.psn, certno: CERTNO, psn_name: NAME }
  })
  await refuse([[Buffer.from('{"event_id": '), 'claims.jsonl:3'], [Buffer.from('null'), 'claims.jsonl:4']], yesterday)
  await refuse([[twoProblems, 'fundwatch.claims.v1/0/1207'], [Buffer.from(`{"payload":{"psn":{"certno":"${CERTNO}","psn_name":"${NAME}`), 'fundwatch.claims.v1/0/1208']], today)
  mkdirSync(OUT, { recursive: true })
  browser = await launchConsoleBrowser()
  ctx = browser.ctx
}, 240_000)

afterAll(async () => closeConsoleTest({ browser, server, app }))

describe('rejected records page (admin)', () => {
  it('shows reason counts per day, the list, and one record with its problems and masked raw text', async () => {
    const page = await ctx.newPage()
    await page.goto(`${base}/?token=${tokens.admin}`)
    await page.click('.nav a[data-nav="/dead-letters"]')
    await page.waitForSelector('#dlq-counts tbody tr')
    expect(await page.locator('#dlq-counts tbody tr').count()).toBe(2)
    const counts = await page.textContent('#dlq-counts')
    expect(counts).toContain('合计：4')
    for (const r of ['not_json', 'not_object', 'schema.invalid_type@payload.psn_no']) expect(counts).toContain(r)
    expect(await page.locator('#dlq-list tbody tr').count()).toBe(4)

    await page.click('#dlq-list tbody tr:has-text("fundwatch.claims.v1/0/1207") a')
    await page.waitForSelector('#dlq-detail')
    expect(await page.textContent('#dlq-detail')).toContain('schema.invalid_type@payload.psn_no')
    const problems = await page.locator('#dlq-problems li').allTextContents()
    expect(problems).toHaveLength(2)
    expect(problems[0]).toMatch(/^payload\.psn_no/)
    expect(problems[1]).toMatch(/^payload\.begntime/)
    const raw = (await page.textContent('#dlq-raw'))!
    expect(raw).toContain('"psn_no": 12345')
    expect(raw).toContain('370702********0025')
    expect(raw).toContain('"psn_name": "赵**"')
    const body = (await page.textContent('body'))!
    expect(body).not.toContain(CERTNO)
    expect(body).not.toContain(NAME)
    await page.screenshot({ path: join(OUT, 'console-dead-letters.png'), fullPage: true })

    // The record cut off mid-way is masked as text.
    await page.click('#dlq-list tbody tr:has-text("fundwatch.claims.v1/0/1208") a')
    await page.waitForSelector('#dlq-detail:has-text("not_json")')
    expect(await page.textContent('#dlq-raw')).toContain(`"psn_name":"赵**`)
    expect(await page.textContent('body')).not.toContain(CERTNO)

    // English second.
    await page.click('#lang')
    await page.waitForSelector('#dlq-detail:has-text("Validation problems")')
    expect(await page.textContent('.nav')).toContain('Rejected records')
    await page.screenshot({ path: join(OUT, 'console-dead-letters-en.png'), fullPage: true })

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#dlq-export')])
    const lines = (await (await import('node:fs/promises')).readFile((await download.path())!, 'utf8')).trim().split('\n')
    expect(lines).toHaveLength(4)
    expect(lines.join('\n')).not.toContain(CERTNO)
    await page.close()
  })

  it('offers the page to admins only', async () => {
    const page = await ctx.newPage()
    await page.goto(`${base}/?token=${tokens.monitor}`)
    await page.waitForSelector('.nav')
    expect(await page.locator('.nav a[data-nav="/dead-letters"]').count()).toBe(0)
    await page.close()
  })
})
