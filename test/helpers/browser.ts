import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'
import { build } from 'vite'
import { removeDir, type TestApp } from './app.ts'
import { institution, item, makeKb } from './detect.ts'

const ROOT = resolve(import.meta.dirname, '../..')
/** Where browser tests leave their screenshots. */
export const TEST_OUTPUT = join(ROOT, 'test-output')

/** Builds the console (web/ → web/dist) the way `npm start` does, so the test serves what users get. */
export async function buildConsole(): Promise<void> {
  await build({ root: join(ROOT, 'web'), configFile: join(ROOT, 'web/vite.config.ts'), logLevel: 'warn' })
}

/** One second-level hospital billing amoxicillin: the smallest world a duplicate-charge alert needs in the console. */
export const AMOXICILLIN_HOSPITAL = 'H37070200001'
export const amoxicillinKb = () => makeKb({
  institutions: [institution(AMOXICILLIN_HOSPITAL, { name: '潍坊市第一医院', level: 2, admdvs: '370702' })],
  catalog: [item('DRUG-AMX', { name: '阿莫西林胶囊', list_type: 'drug', med_chrgitm_type: '09' })],
})
/** A time on 2 March 2026, China time. */
export const onMarch2 = (h: number, m = 0) => `2026-03-02T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00+08:00`

/** The system Chromium (Debian's package; .ci/run installs it). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * Headless Chromium as a reviewer in China has it: zh-CN, Asia/Shanghai, a
 * 1440×900 window, downloads allowed; a fresh profile each time. close()
 * closes it and removes the profile.
 */
export async function launchConsoleBrowser(): Promise<{ ctx: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'fw-chromium-'))
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--lang=zh-CN'],
    viewport: { width: 1440, height: 900 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    acceptDownloads: true,
  })
  return { ctx, close: async () => { await ctx.close(); removeDir(profile) } }
}

/** The end of a console test file: the browser and its profile, the server, the app and its data directory. */
export async function closeConsoleTest(o: { browser?: { close(): Promise<void> }; server?: { close(): Promise<unknown> }; app?: TestApp }): Promise<void> {
  await o.browser?.close()
  await o.server?.close()
  await o.app?.close()
  if (o.app) removeDir(o.app.dataDir)
}

