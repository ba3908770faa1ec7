import { writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { parseArgs } from 'node:util'
import { exportCasePack } from '../api/plugins/evidence.ts'
import { apiDeps } from '../api/server.ts'
import { FundwatchError } from '../errors.ts'
import { appFromFlags } from './common.ts'

const USAGE = `usage: fundwatch evidence <case_id> --out <file.zip> --purpose "<why>" [--unmasked] [--data-dir <dir>] [--kb <dir>]
  --unmasked   personal identifiers in clear (recorded as such in the access log); masked by default`

/**
 * `fundwatch evidence <case>`: the same evidence pack the API exports, written
 * to a file by someone with shell access to the store. The export is recorded
 * in the access log under the operating-system user, with the stated purpose.
 */
export async function evidenceCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { out: { type: 'string' }, purpose: { type: 'string' }, unmasked: { type: 'boolean' }, 'data-dir': { type: 'string' }, kb: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  })
  const caseId = positionals[0]
  if (values.help || !caseId || !values.out || positionals.length !== 1) {
    console.error(USAGE)
    return values.help ? 0 : 2
  }
  const purpose = (values.purpose ?? '').trim()
  if (purpose.length < 2 || purpose.length > 200) throw new FundwatchError('BAD_REQUEST', 'an export needs a purpose (--purpose "…", 2–200 characters)')
  const app = await appFromFlags({ 'data-dir': values['data-dir'], kb: values.kb }, { logLevel: process.env.LOG_LEVEL ?? 'warn' })
  const deps = apiDeps(app)
  try {
    const c = await deps.cases.get(caseId)
    if (!c) {
      console.error(`no case ${caseId}`)
      return 1
    }
    const who = { id: 'cli', name: `cli:${userInfo().username}`, role: 'cli' }
    const { zip, manifest } = await exportCasePack(deps, c, who, purpose, values.unmasked === true)
    writeFileSync(values.out, zip)
    console.error(`wrote ${values.out} (${zip.byteLength} bytes, ${manifest.revealed ? 'UNMASKED' : 'masked'})`)
    for (const f of manifest.files) console.error(`  ${f.sha256}  ${f.name}`)
    return 0
  } finally {
    deps.live.close()
    await app.close()
  }
}
