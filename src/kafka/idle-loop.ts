import { createRequire } from 'node:module'

/**
 * kafkajs 2.2.4 (its last release) keeps every broker connection busy while
 * idle: after each response its request queue calls
 * `scheduleCheckPendingRequests`, which computes `throttledUntil - Date.now()`
 * with `throttledUntil` still at its initial -1 and, when nothing is pending,
 * passes that negative delay to setTimeout. Node runs it after 1 ms, the check
 * finds nothing, schedules itself again: a 1 ms timer loop per connection for
 * the life of the client (upstream tulios/kafkajs#1556 and #1704, unfixed), and
 * on Node ≥ 24 a `TimeoutNegativeWarning` on stderr the first time.
 *
 * A processor at a trickle spends most of its life idle, so the loop is part of
 * what it costs when nothing arrives (bench trickle). The fix is the one the
 * upstream pull requests propose: with nothing pending there is nothing to
 * check later — a request that must wait is pushed to `pending`, and `push`
 * schedules the check itself; a response or a timeout runs the check again. A
 * pending request keeps kafkajs's own scheduling, throttling included.
 *
 * Applied once, to the request queue kafkajs itself loads (its CommonJS
 * module cache), and only while the method still reads as the one described
 * here: a kafkajs release that changed it is left alone (`applied` says which;
 * test/kafka/idle-loop.test.ts fails then, so the fix is looked at again).
 */
interface RequestQueueProto {
  scheduleCheckPendingRequests(this: { pending: unknown[] }): void
}

const FLAW = 'let scheduleAt = this.throttledUntil - Date.now()'
let state: 'applied' | 'not needed' | undefined

export function fixIdleLoop(): 'applied' | 'not needed' {
  if (state) return state
  const require = createRequire(import.meta.url)
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueProto }
  const original = RequestQueue.prototype.scheduleCheckPendingRequests
  if (!original.toString().includes(FLAW)) return (state = 'not needed')
  RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: { pending: unknown[] }) {
    if (this.pending.length === 0) return
    original.call(this)
  }
  return (state = 'applied')
}
