import { decodeNational } from '../national/adapter.ts'
import { decode, type DecodeOptions } from './decode.ts'
import type { DecodedRecord, SourceFormat } from './types.ts'

/**
 * One decoder per source format: bytes → the contract events the record
 * holds (a list: a national transaction may hold several, or none), or the
 * reason it is refused. Every decoder ends in the same contract validation
 * (decode.ts validateEvent), so what reaches admission is a contract event
 * whatever the record's format. Never throws.
 */
export type RecordDecoder = (bytes: Buffer, opts: DecodeOptions) => DecodedRecord

export const DECODERS: Readonly<Record<SourceFormat, RecordDecoder>> = {
  /** A contract event per record (CONTRACT.md): a list of one. */
  contract: (bytes, opts) => {
    const r = decode(bytes, opts)
    return r.ok ? { ok: true, events: [{ event: r.event, eventTime: r.eventTime }], text: r.text } : r
  },
  /** A national platform transaction, request and response as logged (docs/national.md). */
  national: decodeNational,
}
