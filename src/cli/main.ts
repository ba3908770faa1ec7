#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { FundwatchError } from '../errors.ts'

const HELP = `fundwatch — real-time medical-insurance fund monitoring

Usage: fundwatch <command> [options]

Commands:
  start                 embedded all-in-one: generator → pipeline → chDB, console/API on PORT (default 8080)
  replay <file>         replay a JSON-lines event file through the pipeline (progress, summary)
  generate              write a labelled synthetic dataset (events + labels + knowledge base)
  migrate               create or upgrade the ClickHouse tables
  run                   Kafka processor: consume claims and inventory topics as one consumer-group member
  serve                 the API and console alone (no generator, no pipeline)
  topics create         create the Kafka topics
  chdb-server           serve the chDB data directory over ClickHouse HTTP, for several local processes
  evaluate              run a labelled dataset and print per-detector precision and recall
  audit                 run the audit (事后) detectors over stored history [--from D] [--to D] [--detector id]
  users                 create, list and revoke API tokens (roles monitor, inspector, admin, precheck)
  evidence <case_id>    export a case's evidence pack (zip with manifest hashes)

Common options:
  --kb <dir>            knowledge base directory (catalog, institutions, doctors, persons, groups, diagnoses)
  --rules <file>        rule base (YAML or JSON)
  --data-dir <dir>      chDB data directory (FUNDWATCH_DATA_DIR, default .data)
  -h, --help            this help

Environment: PORT, FUNDWATCH_DATA_DIR, CLICKHOUSE_URL, FUNDWATCH_DB, KAFKA_BROKERS, LOG_LEVEL (see README).`

const COMMON = {
  kb: { type: 'string' },
  rules: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

export type CommonFlags = { kb?: string; rules?: string; 'data-dir'?: string }

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    console.log(HELP)
    return cmd ? 0 : 1
  }
  switch (cmd) {
    case 'start': {
      const { values } = parseArgs({ args: rest, options: { ...COMMON, port: { type: 'string' }, rate: { type: 'string' }, seed: { type: 'string' } } })
      const { start } = await import('./start.ts')
      return start(values)
    }
    case 'replay': {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { ...COMMON, 'batch-size': { type: 'string' }, labels: { type: 'string' } } })
      if (positionals.length !== 1) throw new FundwatchError('BAD_REQUEST', 'usage: fundwatch replay <file.jsonl> [--kb dir] [--rules file]')
      const { replay } = await import('./replay.ts')
      return replay(positionals[0]!, values)
    }
    case 'generate': {
      const { values } = parseArgs({ args: rest, options: { out: { type: 'string', default: 'dataset' }, seed: { type: 'string' }, persons: { type: 'string' }, days: { type: 'string' }, 'fee-lines': { type: 'string' }, 'fraud-rate': { type: 'string' } } })
      const { generate } = await import('./generate.ts')
      return generate(values)
    }
    case 'migrate': {
      const { values } = parseArgs({ args: rest, options: COMMON })
      const { migrateCmd } = await import('./migrate.ts')
      return migrateCmd(values)
    }
    default: {
      const { extraCommand } = await import('./extra.ts')
      const code = await extraCommand(cmd, rest)
      if (code === undefined) {
        console.error(`unknown command "${cmd}"\n\n${HELP}`)
        return 2
      }
      return code
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (err: unknown) => {
    if (err instanceof FundwatchError || (err as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) console.error(`fundwatch: ${(err as Error).message}`)
    else console.error(err)
    process.exitCode = 1
  },
)
