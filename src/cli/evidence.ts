import { writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { exportCasePack } from '../api/plugins/evidence.ts'
import { apiDeps } from '../api/server.ts'
import { FundwatchError } from '../errors.ts'
import { appFromFlags } from './common.ts'

/**
 * `fundwatch evidence <case>`: the same evidence pack the API exports, written
 * to a file by someone with shell access to the store. The export is recorded
 * in the access log under the operating-system user, with the stated purpose.
 */
export async function evidenceCommand(caseId: string, values: { out?: string; purpose?: string; unmasked?: boolean; 'data-dir'?: string; kb?: string }): Promise<number> {
  if (!values.out) throw new FundwatchError('BAD_REQUEST', 'an export needs --out <file.zip>')
  const purpose = (values.purpose ?? '').trim()
  if (purpose.length < 2 || purpose.length > 200) throw new FundwatchError('BAD_REQUEST', 'an export needs a purpose (--purpose "…", 2–200 characters)')
  const app = await appFromFlags({ 'data-dir': values['data-dir'], kb: values.kb }, { logLevel: process.env.LOG_LEVEL ?? 'warn' })
  const deps = apiDeps(app)
  try {
    const c = await deps.cases.get(caseId)
    if (!c) {
      throw new FundwatchError('NOT_FOUND', `no case ${caseId}`)
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
