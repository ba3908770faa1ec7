import { FundwatchError } from '../errors.ts'
import { DATASET_FORMATS, writeDataset, type DatasetFormat } from '../generator/generate.ts'
import { sampleKnowledgeBase } from '../kb/sample.ts'

/** The --format flag of generate and evaluate: a usage error (exit 2) when it names no format. */
export function datasetFormat(flag: string | undefined): DatasetFormat {
  const f = flag ?? 'contract'
  if (!(DATASET_FORMATS as readonly string[]).includes(f)) throw new FundwatchError('BAD_REQUEST', `--format must be one of ${DATASET_FORMATS.join(', ')}, not "${f}"`)
  return f as DatasetFormat
}

export async function generate(flags: { out?: string; seed?: string; persons?: string; days?: string; 'fee-lines'?: string; 'fraud-rate'?: string; format?: string }): Promise<number> {
  const out = flags.out ?? 'dataset'
  const format = datasetFormat(flags.format)
  const t0 = performance.now()
  const r = await writeDataset(out, {
    seed: Number(flags.seed ?? 1),
    persons: flags.persons ? Number(flags.persons) : undefined,
    days: flags.days ? Number(flags.days) : undefined,
    targetFeeLines: flags['fee-lines'] ? Number(flags['fee-lines']) : undefined,
    fraudRate: flags['fraud-rate'] ? Number(flags['fraud-rate']) : undefined,
    kb: sampleKnowledgeBase(),
  }, { format })
  const s = (performance.now() - t0) / 1000
  console.log([
    `wrote ${r.eventsFile}: ${r.counts.events.toLocaleString('en-US')} ${format === 'national' ? 'national transactions (one per event)' : 'events'}, ${r.counts.feeLines.toLocaleString('en-US')} fee lines, ${r.counts.persons.toLocaleString('en-US')} persons in ${s.toFixed(1)} s`,
    `      ${r.labelsFile}: ${r.counts.labels} injected findings over ${Object.keys(r.counts.byPattern).length} patterns`,
    `      ${r.nearMissesFile}: ${r.counts.nearMisses} near misses that must not be flagged`,
    `      ${r.kbDir}/: the knowledge base the data was generated against (with the generated persons)`,
    `replay it: fundwatch replay ${r.eventsFile}${format === 'national' ? ' --format national' : ''} --kb ${r.kbDir}`,
  ].join('\n'))
  return 0
}
