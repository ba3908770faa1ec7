import { readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { imageEnv, lineage, readDockerfile, root, type Stage } from './files.ts'

/**
 * deploy/Dockerfile cannot be built here (no Docker engine, no hadolint): the
 * rules that matter, read from the file as docker reads it.
 */
const { args, stages } = readDockerfile()
const stage = (name: string) => stages.find((s) => s.name === name)!
const ops = (s: Stage, op: string) => s.instructions.filter((i) => i.op === op)
const RUNTIME = ['server', 'embedded']

/** The stage whose node_modules a runtime stage copies, and every stage that one builds on. */
function depsStages(target: string): Stage[] {
  const copy = ops(stage(target), 'COPY').find((i) => / \/app\/node_modules /.test(`${i.args} `))
  const from = /--from=(\S+)/.exec(copy?.args ?? '')?.[1]
  expect(from, `${target} copies no node_modules from a stage`).toBeDefined()
  return lineage(stages, from!)
}

const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> }
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> }

describe('deploy/Dockerfile', () => {
  it('is multi-stage: build, production dependencies, and the runtime targets server (the default, last) and embedded', () => {
    expect(stages.map((s) => s.name)).toEqual(expect.arrayContaining(['build', 'prod-deps', 'server-deps', ...RUNTIME]))
    expect(stages.at(-1)!.name).toBe('server')
    // Base images pinned to a full version.
    for (const s of stages.filter((x) => !stages.some((y) => y.name === x.from))) expect(s.from, s.name).toMatch(/^node:\d+\.\d+\.\d+-[a-z]+-slim$/)
    expect(args.NODE_IMAGE).toMatch(/^node:24\./)
  })

  it('the build context leaves out .git, node_modules, data, test output, built files and secrets (.dockerignore)', () => {
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    for (const p of ['.git', 'node_modules', '.data', 'test-output', 'dist', 'web/dist', 'deploy/*.env']) expect(ignore, p).toContain(p)
  })

  it.each(RUNTIME)('%s runs as a non-root user, with a HEALTHCHECK and OCI labels', (name) => {
    const s = stage(name)
    const users = ops(s, 'USER')
    expect(users.length, name).toBeGreaterThan(0)
    expect(users.at(-1)!.args).not.toMatch(/^(root|0)(:|$)/)
    // Nothing after USER that needs root.
    const after = s.instructions.slice(s.instructions.indexOf(users.at(-1)!))
    expect(after.filter((i) => i.op === 'RUN' || i.op === 'COPY'), name).toEqual([])
    expect(ops(s, 'HEALTHCHECK').at(-1)?.args, name).toMatch(/^--interval=\S+ .*CMD .*\/healthz/)
    const labels = ops(s, 'LABEL').map((i) => i.args).join(' ')
    for (const l of ['title', 'description', 'licenses', 'version', 'revision']) expect(labels, `${name}: org.opencontainers.image.${l}`).toContain(`org.opencontainers.image.${l}=`)
    expect(ops(s, 'ARG').map((i) => i.args)).toContain(`VERSION=${pkg.version}`)
  })

  it.each(RUNTIME)('%s runs the compiled JavaScript with plain node: no tsx, no TypeScript', (name) => {
    const s = stage(name)
    const entry = JSON.parse(ops(s, 'ENTRYPOINT').at(-1)!.args) as string[]
    expect(entry[0]).toBe('node')
    const main = entry[1]!
    expect(main).toMatch(/^dist\/.+\.js$/)
    // …which `npm run build` (tsconfig.build.json: rootDir ., outDir dist) emits from a source that exists.
    const build = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '')) as { compilerOptions: { outDir: string; rootDir: string; rewriteRelativeImportExtensions: boolean } }
    expect(build.compilerOptions).toMatchObject({ outDir: 'dist', rootDir: '.', rewriteRelativeImportExtensions: true })
    expect(readdirSync(join(root, 'src/cli'))).toContain(main.replace(/^dist\/src\/cli\//, '').replace(/\.js$/, '.ts'))
    expect(ops(stage('build'), 'RUN').map((i) => i.args)).toContain('npm run build')
    expect(ops(s, 'COPY').map((i) => i.args)).toContain('--from=build /app/dist ./dist')
    for (const i of s.instructions) expect(`${i.op} ${i.args}`).not.toMatch(/\btsx\b|\.ts\b/)
    // tsx is a development dependency: `npm ci --omit=dev` does not install it.
    expect(pkg.dependencies.tsx).toBeUndefined()
    expect(lock.packages['node_modules/tsx']?.dev).toBe(true)
    expect(lock.packages['node_modules/typescript']?.dev).toBe(true)
  })

  it.each(RUNTIME)('%s has production dependencies only (npm ci --omit=dev), none of the host\'s', (name) => {
    const chain = depsStages(name)
    const installs = chain.flatMap((s) => ops(s, 'RUN')).filter((i) => /\bnpm (ci|install)\b/.test(i.args))
    expect(installs.length, name).toBe(1)
    expect(installs[0]!.args).toMatch(/^npm ci --omit=dev\b/)
    // The lock is what gets installed; no COPY of the whole context into a runtime stage.
    for (const i of ops(stage(name), 'COPY')) expect(i.args, name).toMatch(/^--from=/)
  })

  it('ships chDB only in the embedded target: the server target prunes it and sets no chDB data directory', () => {
    const removes = (target: string) => depsStages(target).flatMap((s) => ops(s, 'RUN')).some((i) => /rm -rf node_modules\/chdb node_modules\/@chdb\b/.test(i.args))
    expect(removes('server')).toBe(true)
    expect(removes('embedded')).toBe(false)
    expect(pkg.dependencies.chdb).toBeDefined()
    expect(imageEnv(stages, 'server').FUNDWATCH_DATA_DIR).toBeUndefined()
    expect(imageEnv(stages, 'embedded')).toMatchObject({ FUNDWATCH_DATA_DIR: '/data', HOST: '0.0.0.0' })
    expect(ops(stage('embedded'), 'VOLUME').map((i) => i.args)).toEqual(['["/data"]'])
    expect(JSON.parse(ops(stage('embedded'), 'CMD').at(-1)!.args)).toEqual(['start'])
    expect(JSON.parse(ops(stage('server'), 'CMD').at(-1)!.args)).toEqual(['serve'])
  })

  it('no server-mode code path imports chDB: only the embedded engine\'s loader and the chdb-server command load it, lazily', () => {
    const files = readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.ts'))
    const loaders: string[] = []
    for (const e of files) {
      const f = relative(root, join(e.parentPath, e.name))
      const text = readFileSync(join(root, f), 'utf8')
      // Static imports (a type-only one loads nothing).
      for (const m of text.matchAll(/^\s*import\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
        if (!m[1]) expect(m[2], f).not.toMatch(/^@?chdb(\/|$)/)
      }
      if (/\bimport\(\s*['"]chdb(\/[^'"]*)?['"]\s*\)/.test(text)) loaders.push(f)
    }
    expect(loaders.sort()).toEqual(['src/store/chdb-http.ts', 'src/store/store.ts'])
  })
})
