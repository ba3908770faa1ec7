// Writes the JSON Schemas that producers in other languages validate against,
// from the zod source. `--check` fails when the committed files have drifted.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import * as S from '../schemas/index.ts'
import { FeedbackRequest, FeedbackResponse } from '../schemas/national-feedback.ts'
import * as N from '../schemas/national.ts'

const out = join(import.meta.dirname, '..', 'schemas', 'json')
const targets: Record<string, z.ZodType> = {
  'claim-event': S.ClaimEvent,
  'inventory-event': S.InventoryEvent,
  'any-event': S.AnyEvent,
  alert: S.Alert,
  'dead-letter': S.DeadLetter,
  'kb-catalog': S.CatalogItem,
  'kb-institution': S.Institution,
  'kb-doctor': S.Doctor,
  'kb-person': S.Person,
  'kb-group': S.PayGroupRow,
  'kb-diagnosis': S.DiagnosisRow,
  'national-3103-request': FeedbackRequest,
  'national-3103-response': FeedbackResponse,
  'national-request-envelope': N.NationalRequestEnvelope,
  'national-response-envelope': N.NationalResponseEnvelope,
  'national-3101-request': N.National3101Request,
  'national-3102-request': N.National3102Request,
  'national-analysis-response': N.NationalAnalysisResponse,
}

export function render(): Map<string, string> {
  const files = new Map<string, string>()
  for (const [name, schema] of Object.entries(targets)) {
    const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' })
    files.set(`${name}.schema.json`, JSON.stringify({ $id: `https://fundwatch.dev/schemas/${name}.schema.json`, ...json }, null, 2) + '\n')
  }
  return files
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes('--check')
  mkdirSync(out, { recursive: true })
  let drift = 0
  for (const [file, text] of render()) {
    const path = join(out, file)
    if (check) {
      if (!existsSync(path) || readFileSync(path, 'utf8') !== text) {
        console.error(`schemas/json/${file} is out of date with the zod source: run npm run schemas`)
        drift++
      }
    } else writeFileSync(path, text)
  }
  if (drift) process.exit(1)
  console.log(check ? 'JSON Schemas match the zod source' : `wrote ${render().size} JSON Schemas to schemas/json/`)
}
