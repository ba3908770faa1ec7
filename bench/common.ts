import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeDataset } from '../src/generator/generate.ts'
import { sampleKnowledgeBase } from '../src/kb/sample.ts'

export const ROOT = join(import.meta.dirname, '..')
export const CACHE = join(ROOT, '.cache', 'bench')

export interface Dataset {
  kbDir: string
  eventsFile: string
  labelsFile: string
  events: number
  feeLines: number
}

/** The labelled benchmark dataset, generated once per (seed, size) and reused. */
export async function dataset(feeLines: number, seed = 42): Promise<Dataset> {
  const dir = join(CACHE, `ds-${seed}-${feeLines}`)
  const meta = join(dir, 'meta.json')
  if (existsSync(meta)) return JSON.parse(readFileSync(meta, 'utf8')) as Dataset
  mkdirSync(dir, { recursive: true })
  const t0 = performance.now()
  const r = await writeDataset(dir, { seed, targetFeeLines: feeLines, kb: sampleKnowledgeBase() })
  const ds: Dataset = { kbDir: r.kbDir, eventsFile: r.eventsFile, labelsFile: r.labelsFile, events: r.counts.events, feeLines: r.counts.feeLines }
  writeFileSync(meta, JSON.stringify(ds))
  console.log(`generated ${ds.feeLines.toLocaleString('en-US')} fee lines in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  return ds
}

export interface Figure {
  name: string
  value: number
  unit: string
  goal?: string
  met?: boolean
}

export function rate(n: number, ms: number): number {
  return Math.round((n * 1000) / ms)
}

export function print(section: string, figures: Figure[]): void {
  console.log(`\n## ${section}`)
  for (const f of figures) {
    const goal = f.goal ? `  goal ${f.goal} ${f.met ? '✓ met' : '✗ not met'}` : ''
    console.log(`  ${f.name.padEnd(46)} ${f.value.toLocaleString('en-US').padStart(12)} ${f.unit}${goal}`)
  }
}
