/**
 * Malformed input, one sample per way a producer gets it wrong, for testing
 * the validator and the dead-letter path. `reason` is a human label of what is
 * wrong; the validator owns the machine-readable reason codes. Every sample is
 * built from a valid event by one change, so each tests exactly one rule.
 */
export interface MalformedSample {
  reason: string
  bytes: Buffer
}

const T = '2026-01-05T09:15:00+08:00'
const SRC = { fixmedins_code: 'H37070200001', system: '东软HIS' }

function visitOpened(): Record<string, unknown> {
  return {
    event_id: 'EVmal-0001', event_type: 'visit.opened', event_time: T, schema_version: 1, source: { ...SRC },
    payload: {
      mdtrt_id: 'MD00000000000001', psn_no: '3707020000000001', med_type: '11', begntime: T, insutype: '310', insuplc_admdvs: '370700',
      ipt_otp_no: 'MZ0000000001', adm_dept_codg: 'A03', atddr_no: 'D37070200001001',
      // A made-up ID number with a valid check digit (ISO 7064 MOD 11-2).
      psn: { gend: '1', brdy: '1970-03-01', certno: '370702197003010017', psn_name: '王伟' },
      diagnoses: [{ diag_code: 'J20.900', diag_name: '急性支气管炎', maindiag_flag: '1' }],
    },
  }
}
function line(sn: string): Record<string, unknown> {
  return {
    feedetl_sn: sn, fee_ocur_time: T, med_list_codg: '002589839710000', medins_list_codg: 'XM0001839710', list_type: 'service',
    med_chrgitm_type: '04', cnt: '2', pric: '20.00', det_item_fee_sumamt: '40.00', bilg_dept_codg: 'A03', bilg_dr_codg: 'D37070200001001',
  }
}
function feeUploaded(): Record<string, unknown> {
  return {
    event_id: 'EVmal-0002', event_type: 'fee.uploaded', event_time: T, schema_version: 1, source: { ...SRC },
    payload: { mdtrt_id: 'MD00000000000001', psn_no: '3707020000000001', lines: [line('MD000000000000010001')] },
  }
}
function feeReversed(): Record<string, unknown> {
  return {
    event_id: 'EVmal-0003', event_type: 'fee.reversed', event_time: T, schema_version: 1, source: { ...SRC },
    payload: { mdtrt_id: 'MD00000000000001', psn_no: '3707020000000001', feedetl_sns: ['MD000000000000010001'] },
  }
}
function visitClosed(): Record<string, unknown> {
  return {
    event_id: 'EVmal-0004', event_type: 'visit.closed', event_time: T, schema_version: 1, source: { ...SRC },
    payload: {
      mdtrt_id: 'MD00000000000001', psn_no: '3707020000000001', endtime: T, dscg_way: '1', dscg_maindiag_code: 'J20.900',
      operations: [{ oprn_oprt_code: '47.0901', oprn_oprt_date: '2026-01-05' }],
    },
  }
}
function settlement(): Record<string, unknown> {
  return {
    event_id: 'EVmal-0005', event_type: 'settlement.completed', event_time: T, schema_version: 1, source: { ...SRC },
    payload: {
      setl_id: 'ST00000000000001', mdtrt_id: 'MD00000000000001', psn_no: '3707020000000001', setl_time: T, med_type: '11', insutype: '310',
      medfee_sumamt: '100.00', fulamt_ownpay_amt: '0.00', inscp_scp_amt: '100.00', hifp_pay: '50.00', fund_pay_sumamt: '50.00', acct_pay: '30.00', psn_cash_pay: '20.00',
    },
  }
}
function settlementReversed(): Record<string, unknown> {
  return {
    event_id: 'EVmal-0006', event_type: 'settlement.reversed', event_time: T, schema_version: 1, source: { ...SRC },
    payload: { setl_id: 'ST00000000000001', mdtrt_id: 'MD00000000000001', psn_no: '3707020000000001' },
  }
}
function inventory(): Record<string, unknown> {
  return {
    event_id: 'EVmal-0007', event_type: 'inventory.movement', event_time: T, schema_version: 1, source: { ...SRC },
    payload: { fixmedins_code: 'H37070200001', med_list_codg: 'XA10BAE262A790441422922', kind: 'sale', cnt: '2', movement_time: T },
  }
}

/** The valid events the samples are made from (each sample breaks one of them in one place). */
export function validSamples(): Record<string, unknown>[] {
  return [visitOpened(), feeUploaded(), feeReversed(), visitClosed(), settlement(), settlementReversed(), inventory()]
}

type Obj = Record<string, unknown>
const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o))
function edit(make: () => Obj, f: (e: Obj, p: Obj) => void): Buffer {
  const e = make()
  f(e, e['payload'] as Obj)
  return json(e)
}
const firstLine = (p: Obj): Obj => (p['lines'] as Obj[])[0]!

export function malformedSamples(): MalformedSample[] {
  const s: MalformedSample[] = []
  const add = (reason: string, bytes: Buffer): void => void s.push({ reason, bytes })

  // Not an event at all.
  add('not JSON: truncated object', Buffer.from(json(visitOpened()).toString('utf8').slice(0, 80)))
  add('not JSON: plain text', Buffer.from('visit opened for 王伟 at 09:15'))
  add('empty message', Buffer.alloc(0))
  add('JSON but not an object: an array', json([visitOpened()]))
  add('JSON but not an object: null', Buffer.from('null'))
  add('bad UTF-8 inside a string', Buffer.concat([Buffer.from('{"event_id":"EVmal-0001","event_type":"visit.opened","x":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]))
  add('nested too deeply', Buffer.from('['.repeat(100_000) + ']'.repeat(100_000)))
  add('oversized message (over 1 MiB)', edit(visitOpened, (e) => void (e['padding'] = 'x'.repeat(1_100_000))))

  // Envelope.
  add('missing event_id', edit(visitOpened, (e) => void delete e['event_id']))
  add('event_id with spaces', edit(visitOpened, (e) => void (e['event_id'] = 'event 0001')))
  add('event_id longer than 64', edit(visitOpened, (e) => void (e['event_id'] = 'E'.repeat(65))))
  add('missing event_type', edit(visitOpened, (e) => void delete e['event_type']))
  add('unknown event_type', edit(visitOpened, (e) => void (e['event_type'] = 'visit.teleported')))
  add('schema_version 2', edit(visitOpened, (e) => void (e['schema_version'] = 2)))
  add('schema_version as a string', edit(visitOpened, (e) => void (e['schema_version'] = '1')))
  add('event_time without offset', edit(visitOpened, (e) => void (e['event_time'] = '2026-01-05T09:15:00')))
  add('event_time not a date', edit(visitOpened, (e) => void (e['event_time'] = 'yesterday morning')))
  add('event_time far in the future', edit(visitOpened, (e) => void (e['event_time'] = '2099-01-01T00:00:00+08:00')))
  add('missing source', edit(visitOpened, (e) => void delete e['source']))
  add('bad fixmedins_code in source', edit(visitOpened, (e) => void (e['source'] = { fixmedins_code: 'X370702' })))
  add('payload not an object', edit(visitOpened, (e) => void (e['payload'] = 'MD00000000000001')))

  // visit.opened
  add('visit.opened without psn_no', edit(visitOpened, (_e, p) => void delete p['psn_no']))
  add('visit.opened without mdtrt_id', edit(visitOpened, (_e, p) => void delete p['mdtrt_id']))
  add('visit.opened with unknown med_type', edit(visitOpened, (_e, p) => void (p['med_type'] = '99')))
  add('visit.opened with med_type as a number', edit(visitOpened, (_e, p) => void (p['med_type'] = 11)))
  add('visit.opened with unknown insutype', edit(visitOpened, (_e, p) => void (p['insutype'] = '999')))
  add('visit.opened with bad diag_code', edit(visitOpened, (_e, p) => void ((p['diagnoses'] as Obj[])[0]!['diag_code'] = 'j20.9')))
  add('visit.opened with bad certno check digit', edit(visitOpened, (_e, p) => void ((p['psn'] as Obj)['certno'] = '370702197003010016')))
  add('visit.opened with impossible birth date', edit(visitOpened, (_e, p) => void ((p['psn'] as Obj)['brdy'] = '1970-13-45')))
  add('visit.opened with unknown gend', edit(visitOpened, (_e, p) => void ((p['psn'] as Obj)['gend'] = '3')))
  add('visit.opened with begntime without offset', edit(visitOpened, (_e, p) => void (p['begntime'] = '2026-01-05 09:15:00')))
  // psn itself may be left out (the national registration carries no gender or birthday); when given it is whole.
  add('visit.opened with psn without brdy', edit(visitOpened, (_e, p) => void delete (p['psn'] as Obj)['brdy']))

  // fee.uploaded
  add('fee.uploaded with an empty lines array', edit(feeUploaded, (_e, p) => void (p['lines'] = [])))
  add('fee.uploaded line without feedetl_sn', edit(feeUploaded, (_e, p) => void delete firstLine(p)['feedetl_sn']))
  add('fee.uploaded line without med_list_codg', edit(feeUploaded, (_e, p) => void delete firstLine(p)['med_list_codg']))
  add('fee.uploaded with negative cnt', edit(feeUploaded, (_e, p) => void Object.assign(firstLine(p), { cnt: '-2', det_item_fee_sumamt: '-40.00' })))
  add('fee.uploaded with an amount of 3 decimals', edit(feeUploaded, (_e, p) => void Object.assign(firstLine(p), { det_item_fee_sumamt: '40.001' })))
  add('fee.uploaded with a price of 7 decimals', edit(feeUploaded, (_e, p) => void Object.assign(firstLine(p), { pric: '20.0000005' })))
  add('fee.uploaded with money as a float number', edit(feeUploaded, (_e, p) => void Object.assign(firstLine(p), { pric: 20.5, det_item_fee_sumamt: '41.00' })))
  add('fee.uploaded with cnt as a number', edit(feeUploaded, (_e, p) => void (firstLine(p)['cnt'] = 2)))
  add('fee.uploaded where cnt × pric ≠ det_item_fee_sumamt', edit(feeUploaded, (_e, p) => void (firstLine(p)['det_item_fee_sumamt'] = '45.00')))
  add('fee.uploaded with unknown list_type', edit(feeUploaded, (_e, p) => void (firstLine(p)['list_type'] = 'food')))
  add('fee.uploaded with med_chrgitm_type 15', edit(feeUploaded, (_e, p) => void (firstLine(p)['med_chrgitm_type'] = '15')))
  add('fee.uploaded with prd_days as a string', edit(feeUploaded, (_e, p) => void (firstLine(p)['prd_days'] = '7')))
  add('fee.uploaded with negative prd_days', edit(feeUploaded, (_e, p) => void (firstLine(p)['prd_days'] = -7)))
  add('fee.uploaded with fee_ocur_time without offset', edit(feeUploaded, (_e, p) => void (firstLine(p)['fee_ocur_time'] = '2026-01-05T09:15:00')))
  add('fee.uploaded with more than 5000 lines', edit(feeUploaded, (_e, p) => void (p['lines'] = Array.from({ length: 5001 }, (_, i) => line(`MD00000000000001${String(i).padStart(4, '0')}`)))))

  // fee.reversed
  add('fee.reversed with no feedetl_sns', edit(feeReversed, (_e, p) => void (p['feedetl_sns'] = [])))

  // visit.closed
  add('visit.closed without endtime', edit(visitClosed, (_e, p) => void delete p['endtime']))
  add('visit.closed with unknown dscg_way', edit(visitClosed, (_e, p) => void (p['dscg_way'] = '7')))
  add('visit.closed with bad operation code', edit(visitClosed, (_e, p) => void ((p['operations'] as Obj[])[0]!['oprn_oprt_code'] = 'appendectomy')))
  add('visit.closed with bad dscg_maindiag_code', edit(visitClosed, (_e, p) => void (p['dscg_maindiag_code'] = '20.9')))

  // settlement.completed
  add('settlement without setl_id', edit(settlement, (_e, p) => void delete p['setl_id']))
  add('settlement whose parts do not add up to medfee_sumamt', edit(settlement, (_e, p) => void (p['psn_cash_pay'] = '25.00')))
  add('settlement with hifp_pay above fund_pay_sumamt', edit(settlement, (_e, p) => void Object.assign(p, { hifp_pay: '60.00' })))
  add('settlement with inscp_scp_amt above medfee_sumamt', edit(settlement, (_e, p) => void (p['inscp_scp_amt'] = '120.00')))
  add('settlement with negative money', edit(settlement, (_e, p) => void Object.assign(p, { acct_pay: '-30.00', psn_cash_pay: '80.00' })))
  add('settlement with unknown pay_grp type', edit(settlement, (_e, p) => void (p['pay_grp'] = { type: 'XYZ', code: 'ES31', weight: '1.42' })))

  // settlement.reversed
  add('settlement.reversed without setl_id', edit(settlementReversed, (_e, p) => void delete p['setl_id']))

  // inventory.movement
  add('inventory.movement with unknown kind', edit(inventory, (_e, p) => void (p['kind'] = 'stolen')))
  add('inventory.movement with negative cnt', edit(inventory, (_e, p) => void (p['cnt'] = '-2')))
  add('inventory.movement with bad fixmedins_code', edit(inventory, (_e, p) => void (p['fixmedins_code'] = 'P12')))
  return s
}
