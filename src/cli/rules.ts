import { writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { REASON_MAX, applyRules, latestVersion, readRulesText, ruleHistory, versionByHash } from '../detect/rulebase-store.ts'
import { FundwatchError } from '../errors.ts'
import { appFromFlags } from './common.ts'

/**
 * `fundwatch rules`: the versioned rule base for review in git. export writes
 * a version's text byte for byte (the text recorded is the text given, so
 * export → commit → import changes nothing and keeps the hash); import
 * validates like PUT /api/v1/rules and appends a version that every running
 * role picks up within its poll interval; history lists the changes.
 */
export async function rulesCommand(values: { hash?: string; out?: string; reason?: string; limit?: string; 'data-dir'?: string; kb?: string }, positionals: string[]): Promise<number> {
  const [sub, file] = positionals
  if (sub === 'import' && !file) throw new FundwatchError('BAD_REQUEST', 'rules import needs the file')
  if (sub !== 'import' && file !== undefined) throw new FundwatchError('BAD_REQUEST', `unexpected argument "${file}"`)
  const reason = values.reason?.trim() ?? ''
  if (sub === 'import' && (reason.length < 1 || reason.length > REASON_MAX)) throw new FundwatchError('BAD_REQUEST', `rules import needs --reason: why the rule base changes, 1–${REASON_MAX} characters`)
  const limit = values.limit === undefined ? 50 : Number(values.limit)
  if (!Number.isInteger(limit) || limit < 1) throw new FundwatchError('BAD_REQUEST', `--limit must be a positive integer (got ${values.limit})`)
  // Read first: a missing file fails before the store opens.
  const text = sub === 'import' ? readRulesText(file!) : undefined
  const app = await appFromFlags({ 'data-dir': values['data-dir'], kb: values.kb }, { logLevel: process.env.LOG_LEVEL ?? 'warn' })
  try {
    if (sub === 'export') {
      const v = values.hash ? await versionByHash(app.store, values.hash) : await latestVersion(app.store)
      if (!v) throw new FundwatchError('NOT_FOUND', values.hash ? `no rule-base version ${values.hash} is recorded (fundwatch rules history lists them)` : 'no rule-base version is recorded: every detector runs with its defaults')
      if (values.out) {
        writeFileSync(values.out, v.text)
        console.error(`wrote rule base ${v.hash} (${v.at} UTC, ${v.by}) to ${values.out}`)
      } else process.stdout.write(v.text)
      return 0
    }
    if (sub === 'import') {
      const r = await applyRules(app, text!, { by: `cli:${userInfo().username}`, source: 'cli', reason }, file)
      console.log(`rule base ${r.hash} recorded and in force (${r.detectors.length} detectors run); running roles pick it up within FUNDWATCH_RULES_POLL_MS`)
      return 0
    }
    // Newest first: the first row is the version in force.
    console.log(['at (UTC)', 'hash', 'source', 'by', 'reason'].join('\t'))
    for (const [i, c] of (await ruleHistory(app.store, limit)).entries()) console.log([c.at, i === 0 ? `${c.hash} (in force)` : c.hash, c.source, c.by, c.reason].join('\t'))
    return 0
  } finally {
    await app.close()
  }
}
