import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

/**
 * Imports run one way, from the entry points (src/cli, the API server) down
 * to schemas/: no module reaches itself again through its imports. Static
 * imports count, `import type` too (a type import is still a dependency of
 * the design, and the circles the issue named were made of them), and so
 * does a lazy `await import()` (the CLI's command table loads a command only
 * when it runs, and the command must not import the table back).
 */
const root = join(import.meta.dirname, '../..')

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)))
}

// `import … from '…'`, `import '…'`, `export … from '…'`, and `import('…')`.
const STATIC = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm

/** Module → the modules it imports; `lazy: false` leaves out `import()` (what loading the module alone loads). */
export function importGraph(dirs: string[], opts: { lazy?: boolean } = {}): Map<string, string[]> {
  const files = new Set(dirs.flatMap(sources))
  const graph = new Map<string, string[]>()
  for (const f of files) {
    const text = readFileSync(join(root, f), 'utf8')
    const deps: string[] = []
    for (const m of text.matchAll(STATIC)) {
      if (m[2] && opts.lazy === false) continue
      const spec = (m[1] ?? m[2])!
      if (!spec.startsWith('.')) continue
      const target = relative(root, resolve(root, dirname(f), spec))
      if (files.has(target)) deps.push(target)
    }
    graph.set(f, deps)
  }
  return graph
}

/** Strongly connected components with more than one module (or a module importing itself): the import circles. */
export function circles(graph: Map<string, string[]>): string[][] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const on = new Set<string>()
  const out: string[][] = []
  const visit = (v: string) => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = []
      let w: string
      do {
        w = stack.pop()!
        on.delete(w)
        scc.push(w)
      } while (w !== v)
      if (scc.length > 1 || graph.get(v)!.includes(v)) out.push(scc.sort())
    }
  }
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v)
  return out
}
