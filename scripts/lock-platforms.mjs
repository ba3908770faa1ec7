// Completes package-lock.json with the other platforms' optional native
// packages (@chdb/lib-darwin-arm64, @rollup/rollup-win32-x64-msvc …).
//
// Why: the registry this project's machines reach serves only the linux-x64
// builds of such packages, so npm cannot resolve the rest and leaves them out
// of the lock — and then `npm ci` refuses the lock as out of sync. Recorded
// here with the exact version their parent pins and the os/cpu/libc their
// names state, npm ci skips them on this platform and fetches them by
// name@version on the platform they are for.
//
// Run after any `npm install` that rewrites the lock: node scripts/lock-platforms.mjs
import { readFileSync, writeFileSync } from 'node:fs'

const file = new URL('../package-lock.json', import.meta.url)
const lock = JSON.parse(readFileSync(file, 'utf8'))
const pkgs = lock.packages
const OS = ['darwin', 'linux', 'win32', 'android', 'freebsd', 'openbsd', 'openharmony', 'sunos', 'aix', 'netbsd']
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'loong64', 'ppc64', 'riscv64', 's390x', 'mips64el']
let added = 0
for (const [, entry] of Object.entries(pkgs)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`
    if (pkgs[key] || !/^\d+\.\d+\.\d+/.test(spec)) continue
    const parts = name.split('/').pop().split('-')
    const os = parts.find((p) => OS.includes(p))
    const cpu = parts.find((p) => CPU.includes(p))
    if (!os || !cpu) continue
    const libc = parts.some((p) => p.startsWith('musl')) ? 'musl' : os === 'linux' && parts.some((p) => p.startsWith('gnu')) ? 'glibc' : undefined
    pkgs[key] = { version: spec, cpu: [cpu], os: [os], ...(libc ? { libc: [libc] } : {}), optional: true }
    added++
  }
}
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))))
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n')
console.log(`package-lock.json: recorded ${added} optional platform packages`)
