import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'
import { removeDir, type TestApp } from './app.ts'

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

