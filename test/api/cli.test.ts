import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { strFromU8, unzipSync } from 'fflate'
import { describe, expect, it } from 'vitest'
import { buildServer } from '../../src/api/server.ts'
import { cli } from '../../src/cli/commands.ts'
import { testApp } from '../helpers/app.ts'
import { INST_A, eventsFor, kb, people } from './fixture.ts'
import { generatorSource } from '../../src/pipeline/sources.ts'
import { captureCli } from '../helpers/cli.ts'

// The CLI opens its own App from the environment, as `fundwatch …` would.
const dataDir = mkdtempSync(join(tmpdir(), 'fw-cli-'))
const database = `cli_${process.pid}`
const io = captureCli({ FUNDWATCH_DATA_DIR: dataDir, FUNDWATCH_DB: database, CLICKHOUSE_URL: process.env.CLICKHOUSE_URL ?? '' })

describe('fundwatch users and fundwatch evidence', () => {
  let inspectorToken = ''
  let inspectorId = ''

  it('creates users, printing the token once, and refuses bad input', async () => {
    expect(await cli(['users', 'create', '--role', 'inspector', '--name', '稽核员丙', '--admdvs', '3707'])).toBe(0)
    inspectorToken = io.out[0]!
    expect(inspectorToken).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(io.err.join('\n')).toMatch(/created u_[0-9a-f]{16}\s+inspector\s+稽核员丙\s+scope: admdvs:3707/)
    inspectorId = /created (u_[0-9a-f]{16})/.exec(io.err.join('\n'))![1]!
        // Bad flag values are usage errors: exit 2 and one line that names the field.
    expect(await cli(['users', 'create', '--role', 'root', '--name', 'x'])).toBe(2)
    expect(io.err.at(-1)).toMatch(/^fundwatch users: role: .*\(see fundwatch users --help\)$/)
    expect(await cli(['users', 'create', '--role', 'monitor', '--name', 'x', '--institution', 'NOT-A-CODE'])).toBe(2)
    expect(io.err.at(-1)).toMatch(/fixmedins_code/)
    expect(await cli(['users', 'create', '--role', 'monitor'])).toBe(2)
  })

  it('lists users without their tokens', async () => {
    expect(await cli(['users', 'list'])).toBe(0)
    const text = io.out.join('\n')
    expect(text).toContain(inspectorId)
    expect(text).not.toContain(inspectorToken)
  })

  it('exports a case\'s evidence pack to a file and records it', async () => {
    // Alerts and a case, made through the API with the token the CLI printed.
    const app = await testApp({ kb, dataDir, database })
    await app.pipeline().run(generatorSource(people(2, INST_A, 700).flatMap((p) => eventsFor(p, 2, 'cli'))), new AbortController().signal)
    const server = await buildServer(app, { webDir: false, review: {} })
    const ids = (await app.store.query<{ alert_id: string }>(`SELECT alert_id FROM ${app.store.t('alerts')} FINAL`)).map((r) => r.alert_id)
    const created = await server.inject({ method: 'POST', url: '/api/v1/cases', headers: { authorization: `Bearer ${inspectorToken}` }, payload: { title: '命令行导出', subject: { kind: 'institution' }, alert_ids: ids } })
    expect(created.statusCode).toBe(201)
    const caseId = created.json().case.case_id as string
    await server.close()
    await app.close()

    const file = join(dataDir, 'pack.zip')
    expect(await cli(['evidence', caseId, '--out', file])).toBe(2)
    expect(io.err.at(-1)).toMatch(/purpose/)
    expect(await cli(['evidence', caseId, '--out', file, '--purpose', '移送稽核'])).toBe(0)
    const files = unzipSync(new Uint8Array(readFileSync(file)))
    const manifest = JSON.parse(strFromU8(files['manifest.json']!)) as { purpose: string; revealed: boolean; generated_by: { role: string }; files: { name: string; sha256: string }[] }
    expect(manifest).toMatchObject({ purpose: '移送稽核', revealed: false, generated_by: { role: 'cli' } })
    for (const f of manifest.files) expect(createHash('sha256').update(files[f.name]!).digest('hex')).toBe(f.sha256)
    expect(io.err.join('\n')).toContain(manifest.files[0]!.sha256)
    expect(await cli(['evidence', 'C20990101-00000000', '--out', file, '--purpose', '移送稽核'])).toBe(1)

    const check = await testApp({ kb, dataDir, database })
    const log = await check.store.query<{ user_name: string; role: string; action: string; object_id: string; purpose: string }>(`SELECT user_name, role, action, object_id, purpose FROM ${check.store.t('evidence_access_log')}`)
    expect(log).toEqual([expect.objectContaining({ role: 'cli', action: 'export', object_id: caseId, purpose: '移送稽核' })])
    expect(log[0]!.user_name).toMatch(/^cli:/)
    await check.close()
  })

  it('revokes', async () => {
    expect(await cli(['users', 'revoke', inspectorId])).toBe(0)
    expect(io.err.join('\n')).toContain(`revoked ${inspectorId}`)
    expect(await cli(['users', 'revoke', 'u_0000000000000000'])).toBe(1)
  })
})
