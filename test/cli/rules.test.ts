import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cli } from '../../src/cli/commands.ts'
import { rulesHash } from '../../src/detect/rules-file.ts'
import { removeDir } from '../helpers/app.ts'
import { captureCli } from '../helpers/cli.ts'

/**
 * `fundwatch rules export|import|history` (issue 14, item 4): the rule base
 * round-trips through a file for review in git, byte for byte, so the hash a
 * reviewer sees is the hash in force.
 */
const dir = mkdtempSync(join(tmpdir(), 'fw-rules-cli-'))
const io = captureCli({ FUNDWATCH_DATA_DIR: join(dir, 'chdb'), FUNDWATCH_DB: `rules_cli_${process.pid}`, CLICKHOUSE_URL: process.env.CLICKHOUSE_URL ?? '' })
afterAll(() => removeDir(dir))

// Comments, Chinese, odd spacing, CRLF line ends and no final newline: whatever a reviewer's editor leaves is kept as it is.
const REVIEWED = '# 规则库 — 潍坊试点\r\ndetectors:\r\n  over-standard-charge:\r\n    params:   { tolerance_pct: 5 }   # 允许 5% 误差\r\n    scope: { admdvs: [\'3707\'] }'

describe('fundwatch rules', () => {
  it('import → export round-trips the YAML byte for byte, and importing the export keeps the hash', async () => {
    const reviewed = join(dir, 'reviewed.yaml')
    writeFileSync(reviewed, REVIEWED)
    expect(await cli(['rules', 'import', reviewed, '--reason', '评审通过 MR !42'])).toBe(0)
    expect(io.out.join('\n')).toContain(`rule base ${rulesHash(REVIEWED)} recorded and in force`)

    const exported = join(dir, 'exported.yaml')
    expect(await cli(['rules', 'export', '--out', exported])).toBe(0)
    expect(readFileSync(exported)).toEqual(Buffer.from(REVIEWED, 'utf8'))

    expect(await cli(['rules', 'import', exported, '--reason', '原样导回'])).toBe(0)
    expect(await cli(['rules', 'export', '--hash', rulesHash(REVIEWED), '--out', join(dir, 'again.yaml')])).toBe(0)
    expect(readFileSync(join(dir, 'again.yaml'), 'utf8')).toBe(REVIEWED)
  })

  it('history lists the changes newest first with who, why and the hash in force', async () => {
    expect(await cli(['rules', 'history'])).toBe(0)
    const [header, ...lines] = io.out
    expect(header).toBe(['at (UTC)', 'hash', 'source', 'by', 'reason'].join('\t'))
    expect(lines.map((l) => l.split('\t').slice(1))).toEqual([
      [`${rulesHash(REVIEWED)} (in force)`, 'cli', expect.stringMatching(/^cli:/), '原样导回'],
      [rulesHash(REVIEWED), 'cli', expect.stringMatching(/^cli:/), '评审通过 MR !42'],
    ])
  })

  it('refuses an import without a reason (usage, 2) and an invalid text with its line (1), recording nothing', async () => {
    const bad = join(dir, 'bad.yaml')
    writeFileSync(bad, 'detectors:\n  over-standard-charge:\n    params:\n      tolerance_pct: "five"\n')
    expect(await cli(['rules', 'import', bad])).toBe(2)
    expect(io.err.at(-1)).toMatch(/--reason/)
    expect(await cli(['rules', 'import', bad, '--reason', '试试'])).toBe(1)
    expect(io.err.at(-1)).toMatch(/^fundwatch rules: \S+bad\.yaml:4: .*tolerance_pct/)
    expect(await cli(['rules', 'export', '--hash', '0'.repeat(12)])).toBe(1)
    expect(io.err.at(-1)).toMatch(/no rule-base version 000000000000 is recorded/)
    expect(await cli(['rules', 'history'])).toBe(0)
    expect(io.out).toHaveLength(3)
  })
})
