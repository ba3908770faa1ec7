import { createApp, type App } from '../app.ts'
import { configFromEnv } from '../config.ts'
import { followRuleBase } from '../detect/rulebase-store.ts'

/** The flags most commands share: knowledge base, rule base, chDB directory. */
export type CommonFlags = { kb?: string; rules?: string; 'data-dir'?: string }

export async function appFromFlags(flags: CommonFlags, overrides: Record<string, unknown> = {}): Promise<App> {
  const config = configFromEnv(process.env, { kbDir: flags.kb, rulesFile: flags.rules, dataDir: flags['data-dir'], ...overrides })
  const app = await createApp(config)
  // Every role follows the rule base in force in the store (a change made on
  // another replica arrives within the poll interval) and records new texts of
  // its rules file; the engine swaps between batches.
  const stop = followRuleBase(app, { pollMs: config.rulesPollMs, rulesFile: config.rulesFile })
  const close = app.close
  app.close = async () => {
    stop()
    await close()
  }
  return app
}

/** Stops cleanly on SIGINT/SIGTERM: the signal aborts the run, stored batches stay committed. */
export function stopSignal(): AbortController {
  const ac = new AbortController()
  const stop = (sig: string) => {
    if (ac.signal.aborted) process.exit(130)
    process.stderr.write(`\n${sig}: stopping after the batch in flight…\n`)
    ac.abort(new Error(sig))
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
  return ac
}

export function fmtRate(n: number, ms: number): string {
  return ms > 0 ? Math.round((n * 1000) / ms).toLocaleString('en-US') : '–'
}
