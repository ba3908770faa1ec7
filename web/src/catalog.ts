import { api } from './api.ts'
import type { DetectorInfo } from './types.ts'

// The detector catalog, fetched once per tab: titles for the feed's filter,
// evidence labels for the alert page. Detectors change with a deployment,
// not while a page is open.
let pending: Promise<DetectorInfo[]> | null = null

export function detectorCatalog(): Promise<DetectorInfo[]> {
  pending ??= api.get<{ detectors: DetectorInfo[] }>('/detectors').then((r) => r.detectors).catch((e: unknown) => {
    pending = null
    throw e
  })
  return pending
}
