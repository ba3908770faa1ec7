#!/usr/bin/env node
// Loads the TypeScript CLI through tsx's loader in this same process (no build
// step in development; the image runs the compiled dist/ of `npm run build`),
// so signals — SIGTERM for a clean stop, SIGKILL in the crash tests — reach the
// process that does the work, not a wrapper.
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
