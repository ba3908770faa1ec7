#!/usr/bin/env node
// Loads the TypeScript CLI through tsx's loader in this same process (no build
// step in development; the image runs the compiled dist/ of `npm run build`),
// so signals — SIGTERM for a clean stop, SIGKILL in the crash tests — reach the
// process that does the work, not a wrapper. On Linux it first replaces itself
// (same process id) with one started under the project's glibc malloc settings
// when the environment lacks them: glibc reads them only at start
// (src/util/allocator.ts).
import { register } from 'tsx/esm/api'

register()
const { reexecWithAllocatorEnv } = await import('../src/util/allocator.ts')
reexecWithAllocatorEnv()
await import('../src/cli/main.ts')
