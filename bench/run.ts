import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cpus, totalmem } from 'node:os'
import { ROOT, print, type Figure } from './common.ts'
import { benchBacktest } from './backtest.ts'
import { benchDetect } from './detect.ts'
import { benchFeed } from './feed.ts'
import { benchKafka } from './kafka.ts'
import { benchPipeline } from './pipeline.ts'
import { benchPrecheck } from './precheck.ts'
import { benchSoak } from './soak.ts'
import { benchStateFootprint } from './state-footprint.ts'
import { benchTrickle } from './trickle.ts'

/**
 * `npm run bench`: every throughput and latency goal of the project, measured
 * in one run on this machine, printed and written to bench/results/.
 * BENCH_FEE_LINES sets the dataset size (default 1,100,000).
 */
// The generator sizes its population to about the target; 1.1M keeps the dataset above 1M lines.
const feeLines = Number(process.env.BENCH_FEE_LINES ?? 1_100_000)
const only = process.argv.slice(2)
const results: Record<string, { figures: Figure[]; raw: Record<string, number> }> = {}
const sections: [string, () => Promise<{ figures: Figure[]; raw: Record<string, number> }>][] = [
  ['pipeline', () => benchPipeline(feeLines)],
  // These read the pipeline section's baselines when it ran in the same invocation.
  ['kafka', () => benchKafka(feeLines, results.pipeline?.raw)],
  ['detect', () => benchDetect(feeLines, results.pipeline?.raw)],
  ['feed', () => benchFeed()],
  ['precheck', () => benchPrecheck()],
  ['trickle', () => benchTrickle()],
  ['soak', () => benchSoak(feeLines)],
  ['backtest', () => benchBacktest(feeLines)],
  ['state-footprint', () => benchStateFootprint()],
]

console.log(`fundwatch bench — ${new Date().toISOString()} — ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`)
for (const [name, run] of sections) {
  if (only.length && !only.includes(name)) continue
  results[name] = await run()
  print(name, results[name].figures)
}
const dir = join(ROOT, 'bench', 'results')
mkdirSync(dir, { recursive: true })
const doc = JSON.stringify({ at: new Date().toISOString(), machine: { cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version }, feeLines, results }, null, 2)
writeFileSync(join(dir, 'latest.json'), doc)
writeFileSync(join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), doc)
console.log(`\nwritten to bench/results/latest.json`)
