#!/usr/bin/env node
import { cli } from './commands.ts'

// The entry point: the command table parses, dispatches and maps failures to exit statuses.
process.exitCode = await cli(process.argv.slice(2))
