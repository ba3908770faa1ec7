import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseDocument } from 'yaml'

/**
 * deploy/Dockerfile and deploy/compose.yaml read as the tools read them, for
 * the tests that stand in for `docker build` and `docker compose up` (no
 * Docker engine on the CI machine): Dockerfile stages with their instructions
 * and inherited ENV; the compose file with YAML merge keys, as compose has them.
 */
export const root = join(import.meta.dirname, '../..')
export const deploy = join(root, 'deploy')

export interface Instruction { op: string; args: string }
export interface Stage { name: string; from: string; instructions: Instruction[] }

/** The stages of a Dockerfile, line continuations joined, comments dropped, ARG defaults substituted in FROM. */
export function dockerfileStages(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  const args: Record<string, string> = {}
  const stages: Stage[] = []
  for (const line of lines) {
    const m = /^(\S+)\s+(.*)$/.exec(line)
    if (!m) continue
    const op = m[1]!.toUpperCase()
    const rest = m[2]!.replace(/\s+/g, ' ')
    if (op === 'FROM') {
      const f = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!
      stages.push({ name: f[2] ?? String(stages.length), from: substitute(f[1]!, args), instructions: [] })
    } else if (stages.length === 0) {
      if (op === 'ARG') Object.assign(args, pairs(rest))
    } else {
      stages.at(-1)!.instructions.push({ op, args: rest })
    }
  }
  return { args, stages }
}

function substitute(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, k: string) => vars[k] ?? '')
}

function pairs(s: string): Record<string, string> {
  return Object.fromEntries([...s.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|\S*))?/g)].map((m) => [m[1]!, (m[2] ?? '').replace(/^"(.*)"$/, '$1')]))
}

/** The chain of stages a stage builds on, itself first. */
export function lineage(stages: Stage[], name: string): Stage[] {
  const out: Stage[] = []
  for (let s = stages.find((x) => x.name === name); s; s = stages.find((x) => x.name === s!.from)) out.push(s)
  return out
}

/** The ENV a container of this target starts with (its own and its parent stages'; stage ARGs substituted by their defaults). */
export function imageEnv(stages: Stage[], target: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const s of lineage(stages, target).reverse()) {
    const args: Record<string, string> = {}
    for (const i of s.instructions) {
      if (i.op === 'ARG') Object.assign(args, pairs(i.args))
      if (i.op === 'ENV') for (const [k, v] of Object.entries(pairs(i.args))) env[k] = substitute(v, args)
    }
  }
  return env
}

export function readDockerfile(): { args: Record<string, string>; stages: Stage[] } {
  return dockerfileStages(readFileSync(join(deploy, 'Dockerfile'), 'utf8'))
}

export interface ComposeService {
  image?: string
  build?: { context: string; dockerfile: string; target?: string }
  command?: string[] | string
  entrypoint?: string[] | string
  environment?: Record<string, string | number | boolean>
  env_file?: (string | { path: string; required?: boolean })[]
  labels?: Record<string, string>
  volumes?: string[]
  healthcheck?: { test?: string[] | string; disable?: boolean }
  depends_on?: Record<string, { condition: string }> | string[]
  restart?: string
  deploy?: { replicas?: number; resources?: { limits?: { cpus?: string; memory?: string } } }
}
export interface Compose { services: Record<string, ComposeService>; volumes?: Record<string, unknown> }

/** compose.yaml parsed with merge keys (`<<: *x`), as docker compose reads it; YAML errors thrown. */
export function readCompose(): Compose {
  const doc = parseDocument(readFileSync(join(deploy, 'compose.yaml'), 'utf8'), { merge: true })
  if (doc.errors.length) throw new Error(`compose.yaml: ${doc.errors.map((e) => e.message).join('; ')}`)
  return doc.toJS({ maxAliasCount: 1000 }) as Compose
}

export function envFiles(s: ComposeService): { path: string; required: boolean }[] {
  return (s.env_file ?? []).map((e) => (typeof e === 'string' ? { path: e, required: true } : { path: e.path, required: e.required ?? true }))
}
