/* eslint-disable @typescript-eslint/no-explicit-any -- mutating JSON fixtures field by field is what these cases do */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export const ex = (name: string) => JSON.parse(readFileSync(join(import.meta.dirname, '../../schemas/examples', `${name}.json`), 'utf8')) as Record<string, any>
export const enc = (v: unknown) => Buffer.from(JSON.stringify(v))
export function mutate(name: string, f: (e: Record<string, any>) => void): Buffer {
  const e = ex(name)
  f(e)
  return enc(e)
}

/**
 * Malformed inputs, each with the reason it must be rejected with: shared by the
 * decoder's unit test and the Kafka poison-record test. Times are relative to
 * 2026-04-01 (the far-future case is a year ahead of the events).
 */
export const CASES: [string, Buffer, string][] = [
  ['not JSON', Buffer.from('{"event_id": '), 'not_json'],
  ['empty record', Buffer.alloc(0), 'empty'],
  ['invalid UTF-8', Buffer.concat([Buffer.from('{"event_id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), 'bad_encoding'],
  ['top-level array', enc([ex('fee.uploaded')]), 'not_object'],
  ['oversized', Buffer.from(JSON.stringify({ ...ex('fee.uploaded'), pad: 'x'.repeat(70_000) })), 'oversized'],
  ['no event_type', mutate('fee.uploaded', (e) => delete e.event_type), 'missing_event_type'],
  ['event_type a number', mutate('fee.uploaded', (e) => (e.event_type = 7)), 'schema.invalid_type@event_type'],
  ['unknown event_type', mutate('fee.uploaded', (e) => (e.event_type = 'fee.deleted')), 'unknown_event_type'],
  ['schema_version 2', mutate('fee.uploaded', (e) => (e.schema_version = 2)), 'unsupported_schema_version'],
  ['no event_id', mutate('fee.uploaded', (e) => delete e.event_id), 'schema.missing@event_id'],
  ['event_id too long', mutate('fee.uploaded', (e) => (e.event_id = 'e'.repeat(65))), 'schema.too_big@event_id'],
  ['event_time without offset', mutate('fee.uploaded', (e) => (e.event_time = '2026-03-02T18:00:00')), 'schema.invalid_format@event_time'],
  ['event_time far in the future', mutate('fee.uploaded', (e) => (e.event_time = '2027-03-02T18:00:00+08:00')), 'future_time@event_time'],
  ['bad fixmedins_code', mutate('fee.uploaded', (e) => (e.source.fixmedins_code = 'X123')), 'schema.invalid_format@source.fixmedins_code'],
  ['no source', mutate('fee.uploaded', (e) => delete e.source), 'schema.missing@source'],
  ['payload not an object', mutate('fee.uploaded', (e) => (e.payload = 'lines')), 'schema.invalid_type@payload'],
  ['lines empty', mutate('fee.uploaded', (e) => (e.payload.lines = [])), 'schema.too_small@payload.lines'],
  ['cnt as a JSON number', mutate('fee.uploaded', (e) => (e.payload.lines[0].cnt = 2)), 'schema.invalid_type@payload.lines.*.cnt'],
  ['negative cnt', mutate('fee.uploaded', (e) => (e.payload.lines[0].cnt = '-2')), 'schema.invalid_format@payload.lines.*.cnt'],
  ['zero cnt', mutate('fee.uploaded', (e) => { e.payload.lines[0].cnt = '0'; e.payload.lines[0].det_item_fee_sumamt = '0.00' }), 'zero_quantity@payload.lines.*.cnt'],
  ['price with 7 decimals (N(16,6))', mutate('fee.uploaded', (e) => (e.payload.lines[0].pric = '23.5050001')), 'schema.invalid_format@payload.lines.*.pric'],
  ['amount with 3 decimals (N(16,2))', mutate('fee.uploaded', (e) => (e.payload.lines[0].det_item_fee_sumamt = '47.010')), 'schema.invalid_format@payload.lines.*.det_item_fee_sumamt'],
  ['amount as a float', mutate('fee.uploaded', (e) => (e.payload.lines[0].det_item_fee_sumamt = 47.0)), 'schema.invalid_type@payload.lines.*.det_item_fee_sumamt'],
  ['cnt × pric ≠ amount', mutate('fee.uploaded', (e) => (e.payload.lines[0].det_item_fee_sumamt = '47.02')), 'amount_mismatch@payload.lines.*'],
  ['same feedetl_sn twice', mutate('fee.uploaded', (e) => (e.payload.lines[1].feedetl_sn = e.payload.lines[0].feedetl_sn)), 'duplicate_line_id@payload.lines.*.feedetl_sn'],
  ['unknown list_type', mutate('fee.uploaded', (e) => (e.payload.lines[0].list_type = 'device')), 'schema.invalid_value@payload.lines.*.list_type'],
  ['bad med_chrgitm_type', mutate('fee.uploaded', (e) => (e.payload.lines[0].med_chrgitm_type = '99')), 'schema.invalid_format@payload.lines.*.med_chrgitm_type'],
  ['prd_days fractional', mutate('fee.uploaded', (e) => (e.payload.lines[0].prd_days = 1.5)), 'schema.invalid_type@payload.lines.*.prd_days'],
  ['no psn_no', mutate('fee.uploaded', (e) => delete e.payload.psn_no), 'schema.missing@payload.psn_no'],
  ['unknown med_type', mutate('visit.opened', (e) => (e.payload.med_type = '99')), 'schema.invalid_value@payload.med_type'],
  ['unknown insutype', mutate('visit.opened', (e) => (e.payload.insutype = '999')), 'schema.invalid_value@payload.insutype'],
  ['bad diagnosis code', mutate('visit.opened', (e) => (e.payload.diagnoses[0].diag_code = 'pneumonia')), 'schema.invalid_format@payload.diagnoses.*.diag_code'],
  ['certno with a wrong check digit', mutate('visit.opened', (e) => (e.payload.psn.certno = '110105194912310021')), 'bad_certno@payload.psn.certno'],
  ['birthday not a date', mutate('visit.opened', (e) => (e.payload.psn.brdy = '14/07/1961')), 'schema.invalid_format@payload.psn.brdy'],
  ['unknown gender code', mutate('visit.opened', (e) => (e.payload.psn.gend = 'F')), 'schema.invalid_value@payload.psn.gend'],
  ['bad admdvs', mutate('visit.opened', (e) => (e.payload.insuplc_admdvs = '3707')), 'schema.invalid_format@payload.insuplc_admdvs'],
  ['unknown discharge way', mutate('visit.closed', (e) => (e.payload.dscg_way = '8')), 'schema.invalid_value@payload.dscg_way'],
  ['bad operation code', mutate('visit.closed', (e) => (e.payload.operations[0].oprn_oprt_code = 'appendectomy')), 'schema.invalid_format@payload.operations.*.oprn_oprt_code'],
  ['settlement parts do not add up', mutate('settlement.completed', (e) => (e.payload.psn_cash_pay = '1600.00')), 'settlement_sum_mismatch@payload'],
  ['pooled fund above all funds', mutate('settlement.completed', (e) => (e.payload.hifp_pay = '7000.00')), 'fund_pay_mismatch@payload.hifp_pay'],
  ['in-scope amount above total', mutate('settlement.completed', (e) => (e.payload.inscp_scp_amt = '9000.00')), 'scope_amount_mismatch@payload.inscp_scp_amt'],
  ['unknown pay group type', mutate('settlement.completed', (e) => (e.payload.pay_grp.type = 'APG')), 'schema.invalid_value@payload.pay_grp.type'],
  // The decoder's unit test and the poison test both set the lines-per-event limit to 50.
  ['51 fee lines in one event', mutate('fee.uploaded', (e) => {
    e.payload.lines = Array.from({ length: 51 }, (_, i) => ({ ...e.payload.lines[0], feedetl_sn: `TM${i}` }))
  }), 'too_many_lines@payload.lines'],
  ['51 line ids in one reversal', mutate('fee.reversed', (e) => (e.payload.feedetl_sns = Array.from({ length: 51 }, (_, i) => `TM${i}`))), 'too_many_lines@payload.feedetl_sns'],
  ['reversal without line ids', mutate('fee.reversed', (e) => (e.payload.feedetl_sns = [])), 'schema.too_small@payload.feedetl_sns'],
  ['unknown inventory kind', mutate('inventory.movement', (e) => (e.payload.kind = 'gift')), 'schema.invalid_value@payload.kind'],
]

