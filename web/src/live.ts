import { subscribe } from './api.ts'
import type { AlertItem, Workflow } from './types.ts'

// One stream per tab, shared by every screen: the feed inserts new alerts,
// an open alert page follows its workflow, the top bar shows the connection.

export type LiveEvent = { type: 'alert'; alert: AlertItem } | { type: 'workflow'; alert_id: string; workflow: Workflow }
type Listener = (e: LiveEvent) => void

const listeners = new Set<Listener>()
const stateListeners = new Set<(live: boolean) => void>()
let stop: (() => void) | null = null
let live = false

export function startLive(): void {
  if (stop) return
  stop = subscribe('/alerts/stream', (type, data) => {
    if (type === 'alert') emit({ type: 'alert', alert: data as AlertItem })
    else if (type === 'workflow') {
      const d = data as { alert_id: string; workflow: Workflow }
      emit({ type: 'workflow', alert_id: d.alert_id, workflow: d.workflow })
    }
  }, (on) => {
    live = on
    for (const l of stateListeners) l(on)
  })
}

export function stopLive(): void {
  stop?.()
  stop = null
  live = false
}

function emit(e: LiveEvent): void {
  for (const l of listeners) l(e)
}

export function onLive(l: Listener): () => void {
  listeners.add(l)
  return () => listeners.delete(l)
}

export function onLiveState(l: (live: boolean) => void): () => void {
  stateListeners.add(l)
  l(live)
  return () => stateListeners.delete(l)
}

/** Lets a screen announce its own change (after a transition) the way the stream would. */
export const announce = emit
