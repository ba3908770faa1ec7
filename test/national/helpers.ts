import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { EventOf, EventType } from '../../schemas/index.ts'
import { decodeNational } from '../../src/national/adapter.ts'
import { DEFAULT_DECODE } from '../../src/pipeline/decode.ts'
import type { DecodedRecord } from '../../src/pipeline/types.ts'

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'national')
/**
 * The national interface's own folder (../shared/national beside the checkout,
 * or FUNDWATCH_SHARED_NATIONAL), when this machine has it. The project keeps a
 * checked copy (test/fixtures/national: samples/, fields.json, SHA256SUMS), so
 * a clone elsewhere still tests the same bytes; where the folder is present the
 * tests read the samples from it, and fixtures.test.ts holds the copy to it.
 */
export const SHARED_NATIONAL: string | undefined = [process.env.FUNDWATCH_SHARED_NATIONAL, join(import.meta.dirname, '..', '..', '..', 'shared', 'national')]
  .find((d): d is string => d !== undefined && d !== '' && existsSync(join(d, 'samples')))
/** Where the tests read the samples: the shared folder when present, else the project's checked copy. */
export const SAMPLES = SHARED_NATIONAL ? join(SHARED_NATIONAL, 'samples') : join(FIXTURES, 'samples')

type Obj = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/** A fixture as a fresh object to change: `samples/2204` or `variants/2401-hn-cert_type`. */
export function fixture(name: string): Obj {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Obj
}

export function fixtureNames(dir: 'samples' | 'variants'): string[] {
  return readdirSync(join(FIXTURES, dir)).filter((f) => f.endsWith('.json')).map((f) => `${dir}/${f.slice(0, -5)}`).sort()
}

/** One record as it sits on the topic or a line of a replay file: compact JSON. */
export function line(record: unknown): string {
  return JSON.stringify(record)
}

export function decodeRecord(record: unknown): DecodedRecord {
  return decodeNational(Buffer.from(typeof record === 'string' ? record : line(record)), DEFAULT_DECODE)
}

/** The events a record maps to; fails the test with the reason when it is refused. */
export function eventsOf(record: unknown): EventOf<EventType>[] {
  const r = decodeRecord(record)
  if (!r.ok) throw new Error(`refused: ${r.reason}: ${r.detail}`)
  return r.events.map((e) => e.event) as EventOf<EventType>[]
}

export function only<T extends EventType>(record: unknown, type: T): EventOf<T> {
  const evs = eventsOf(record)
  if (evs.length !== 1 || evs[0]!.event_type !== type) throw new Error(`expected one ${type}, got ${evs.map((e) => e.event_type).join(', ')}`)
  return evs[0] as EventOf<T>
}

export function reason(record: unknown): string {
  const r = decodeRecord(record)
  return r.ok ? `ok (${r.events.length} events${r.ignored ? `, ignored ${r.ignored.reason}` : ''})` : r.reason
}
