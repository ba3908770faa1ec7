// `npm run build`: the application as plain JavaScript in dist/, the tree the
// image runs with `node dist/src/cli/main.js` (no tsx, no TypeScript at run time).
//
//   dist/src, dist/detectors, dist/schemas   tsc -p tsconfig.build.json
//   dist/package.json                        the version the CLI and /metrics report
//   dist/web/dist                            the console (vite build web)
//
// dist/ mirrors the checkout, so every path the code resolves against its own
// file (../../package.json, ../../web/dist) holds in both. Dependencies are
// resolved from the node_modules above dist/, as from the sources.
import { execFileSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const dist = join(root, 'dist')
const bin = (name: string) => join(root, 'node_modules/.bin', name)

rmSync(dist, { recursive: true, force: true })
execFileSync(bin('tsc'), ['-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
if (!process.argv.includes('--no-web')) execFileSync(bin('vite'), ['build', join(root, 'web'), '--logLevel', 'warn'], { stdio: 'inherit' })
copyFileSync(join(root, 'package.json'), join(dist, 'package.json'))
if (existsSync(join(root, 'web/dist/index.html'))) cpSync(join(root, 'web/dist'), join(dist, 'web/dist'), { recursive: true })
console.log(`built ${dist}: run it with node dist/src/cli/main.js`)
