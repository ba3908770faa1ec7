import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AnyEvent, isValidCertno, type Diagnosis, type EventOf } from '../../schemas/index.ts'
import { createGenerator, writeDataset } from '../../src/generator/generate.ts'
import { NationalWriter, type NationalObject, type NationalRecord } from '../../src/generator/national.ts'
import { World } from '../../src/generator/world.ts'
import { sampleKnowledgeBase } from '../../src/kb/sample.ts'
import { SPEC } from '../../src/national/spec.ts'

/**
 * The generator's national writer (issue 10 item 5), against the printed field
 * tables as the adapter holds them (src/national/spec.ts: fields.json, checked
 * against its copy in test/national/fixtures.test.ts).
 */
interface Field { name: string; type: string; req_hn: string; req_jx: string }
interface Node { node: string; direction: 'input' | 'output'; fields: Field[] }
const FIELDS: Record<string, Node[]> = Object.fromEntries(Object.entries(SPEC).map(([infno, nodes]) => [infno, nodes.map((n) => ({
  node: n.node, direction: n.direction, fields: n.fields.map(([name, type, req_hn, req_jx]) => ({ name, type, req_hn, req_jx })),
}))]))
const ENVELOPE_REQUIRED = ['infno', 'msgid', 'mdtrtarea_admvs', 'recer_sys_code', 'infver', 'opter_type', 'opter', 'opter_name', 'inf_time', 'fixmedins_code', 'fixmedins_name', 'input']
const RESPONSE_REQUIRED = ['infcode', 'inf_refmsgid']

const START = Date.parse('2026-03-02T00:00:00+08:00')
const kbData = sampleKnowledgeBase()
const opts = { seed: 23, persons: 250, days: 30, startTime: START, fraudRate: 0.03, kb: kbData }

let events: AnyEvent[]
let records: NationalRecord[]
let writer: NationalWriter
const dirs: string[] = []

beforeAll(() => {
  const gen = createGenerator(opts)
  events = [...gen.events()]
  writer = new NationalWriter(gen.kb)
  records = events.map((e) => writer.write(e))
})
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const rows = (x: unknown): NationalObject[] => (Array.isArray(x) ? (x as NationalObject[]) : x === undefined ? [] : [x as NationalObject])
const present = (v: unknown, type: string): boolean => v !== undefined && v !== null && (type === 'N' ? v !== '' : typeof v === 'string' ? v !== '' : true)

/** Every field both the Hunan and the Jiangxi copy mark required, on every row of every node of the record. */
function missingRequired(rec: NationalRecord): string[] {
  const req = rec.request
  const infno = String(req['infno'])
  const out: string[] = []
  for (const f of ENVELOPE_REQUIRED) if (!present(req[f], 'C')) out.push(`${infno} envelope.${f}`)
  if (rec.response) for (const f of RESPONSE_REQUIRED) if (!present(rec.response[f], 'N')) out.push(`${infno} response.${f}`)
  for (const node of FIELDS[infno]!) {
    const holder = node.direction === 'input' ? (req['input'] as NationalObject) : (rec.response?.['output'] as NationalObject | undefined)
    if (!holder) continue
    const at = rows(holder[node.node])
    if (node.direction === 'input' && at.length === 0 && node.fields.some((f) => f.req_hn === 'Y' && f.req_jx === 'Y') && node.node !== 'diseinfo') out.push(`${infno} ${node.node} (absent)`)
    for (const [i, r] of at.entries()) {
      for (const f of node.fields) if (f.req_hn === 'Y' && f.req_jx === 'Y' && !present(r[f.name], f.type)) out.push(`${infno} ${node.direction}.${node.node}[${i}].${f.name}`)
    }
  }
  return out
}

// ---------------------------------------------------------------- a reference reader
// The design's mapping (notes/national-design.md, docs/national.md) read plainly, so a test can check that the
// writer loses nothing the mapping recovers. The real adapter lives in src/national; this one is deliberately simple.

const dt = (s: string): string => `${s.replace(' ', 'T')}+08:00`
const known = (infno: string, node: string): Set<string> => new Set([...(FIELDS[infno] ?? []).filter((n) => n.node === node).flatMap((n) => n.fields.map((f) => f.name)), 'expContent'])
function extrasOf(o: NationalObject, infno: string, node: string): NationalObject {
  const k = known(infno, node)
  return Object.fromEntries(Object.entries(o).filter(([f]) => !k.has(f)))
}
const exp = (o: NationalObject): NationalObject => (typeof o['expContent'] === 'string' ? JSON.parse(o['expContent']) as NationalObject : (o['expContent'] as NationalObject | undefined) ?? {})
function psnFrom(d: NationalObject): object | undefined {
  const certType = (d['psn_cert_type'] ?? d['cert_type'] ?? '') as string
  const id = (certType === '01' || certType === '') && d['certno'] ? String(d['certno']) : d['mdtrt_cert_type'] === '02' ? String(d['mdtrt_cert_no']) : undefined
  if (!id || !isValidCertno(id)) return undefined
  return {
    gend: Number(id[16]) % 2 === 1 ? '1' : '2', brdy: `${id.slice(6, 10)}-${id.slice(10, 12)}-${id.slice(12, 14)}`,
    ...(d['certno'] ? { certno: d['certno'] } : {}), ...(d['psn_name'] ? { psn_name: d['psn_name'] } : {}),
  }
}
const diag = (r: NationalObject, main: string): Diagnosis => ({ diag_code: String(r['diag_code']), diag_name: String(r['diag_name']), maindiag_flag: main as '0' | '1' })
const disWithFlag = (x: unknown): Diagnosis[] => rows(x).map((r) => diag(r, String(r['maindiag_flag'])))
const LIST_TYPE = (t: string): string => (t === '09' || t === '11' ? 'drug' : t === '10' ? 'herb' : t === '08' ? 'consumable' : 'service')
const KIND: Record<string, string> = { '3501': 'stock_count', '3502': 'loss', '3503': 'purchase', '3505': 'sale', '3506': 'return' }

function read(rec: NationalRecord): AnyEvent {
  const r = rec.request
  const infno = String(r['infno'])
  const inp = r['input'] as NationalObject
  const out = rec.response?.['output'] as NationalObject | undefined
  const base = {
    event_id: r['msgid'], event_time: dt(String(r['inf_time'])), schema_version: 1,
    source: { fixmedins_code: r['fixmedins_code'], ...(r['fixmedins_soft_fcty'] !== undefined ? { system: r['fixmedins_soft_fcty'] } : {}) },
  }
  const admdvs = String(r['insuplc_admdvs'] || r['mdtrtarea_admvs'])
  const ev = (event_type: string, payload: object): AnyEvent => ({ ...base, event_type, payload }) as AnyEvent
  switch (infno) {
    case '2201': {
      const d = inp['data'] as NationalObject
      const psn = psnFrom(d)
      return ev('visit.opened', {
        mdtrt_id: (out!['data'] as NationalObject)['mdtrt_id'], psn_no: d['psn_no'], med_type: d['med_type'] ?? '11', begntime: dt(String(d['begntime'])),
        insutype: d['insutype'], insuplc_admdvs: admdvs, ipt_otp_no: d['ipt_otp_no'], adm_dept_codg: d['dept_code'], atddr_no: d['atddr_no'],
        ...(psn ? { psn } : {}), diagnoses: [], ...extrasOf(d, infno, 'data'),
      })
    }
    case '2401': {
      const m = inp['mdtrtinfo'] as NationalObject
      const psn = psnFrom(m)
      return ev('visit.opened', {
        mdtrt_id: (out!['result'] as NationalObject)['mdtrt_id'], psn_no: m['psn_no'], med_type: m['med_type'], begntime: dt(String(m['begntime'])),
        insutype: m['insutype'], insuplc_admdvs: admdvs, ipt_otp_no: m['ipt_no'], adm_dept_codg: m['adm_dept_codg'], atddr_no: m['atddr_no'],
        ...(psn ? { psn } : {}), diagnoses: disWithFlag(inp['diseinfo']), ...extrasOf(m, infno, 'mdtrtinfo'),
      })
    }
    case '2203': {
      const m = inp['mdtrtinfo'] as NationalObject
      const dis = rows(inp['diseinfo']).filter((x) => x['vali_flag'] === '1').sort((a, b) => Number(a['diag_srt_no']) - Number(b['diag_srt_no']))
      return ev('visit.updated', { mdtrt_id: m['mdtrt_id'], psn_no: m['psn_no'], med_type: m['med_type'], diagnoses: dis.map((x) => diag(x, Number(x['diag_srt_no']) === 1 ? '1' : '0')) })
    }
    case '2403': {
      const a = inp['adminfo'] as NationalObject
      return ev('visit.updated', { mdtrt_id: a['mdtrt_id'], psn_no: a['psn_no'], med_type: a['med_type'], adm_dept_codg: a['adm_dept_codg'], atddr_no: a['atddr_no'], diagnoses: disWithFlag(inp['diseinfo']) })
    }
    case '2204':
    case '2301': {
      const res = new Map(rows(out!['result']).map((x) => [String(x['feedetl_sn']), x]))
      const fd = rows(inp['feedetail'])
      return ev('fee.uploaded', {
        mdtrt_id: fd[0]!['mdtrt_id'], psn_no: fd[0]!['psn_no'],
        lines: fd.map((l) => {
          const t = String(res.get(String(l['feedetl_sn']))!['med_chrgitm_type'])
          const prd = l['prd_days']
          return {
            feedetl_sn: l['feedetl_sn'], fee_ocur_time: dt(String(l['fee_ocur_time'])), med_list_codg: l['med_list_codg'], medins_list_codg: l['medins_list_codg'],
            list_type: LIST_TYPE(t), med_chrgitm_type: t, cnt: l['cnt'], pric: l['pric'], det_item_fee_sumamt: l['det_item_fee_sumamt'],
            bilg_dept_codg: l['bilg_dept_codg'], bilg_dr_codg: l['bilg_dr_codg'],
            ...(prd !== undefined && prd !== '' && Number(prd) !== 0 ? { prd_days: Number(prd) } : {}),
            ...(l['chrg_bchno'] !== undefined ? { chrg_bchno: l['chrg_bchno'] } : {}),
            ...(exp(l)['hours'] !== undefined ? { hours: exp(l)['hours'] } : {}),
            ...Object.fromEntries(Object.entries(extrasOf(l, infno, 'feedetail')).filter(([k]) => k !== 'prd_days' && k !== 'chrg_bchno')),
          }
        }),
      })
    }
    case '2205': {
      const d = inp['data'] as NationalObject
      return ev('fee.reversed', { mdtrt_id: d['mdtrt_id'], psn_no: d['psn_no'], chrg_bchno: d['chrg_bchno'] })
    }
    case '2302': {
      const d = rows(inp['data'])
      return ev('fee.reversed', { mdtrt_id: d[0]!['mdtrt_id'], psn_no: d[0]!['psn_no'], feedetl_sns: d.map((x) => x['feedetl_sn']) })
    }
    case '2402': {
      const d = inp['dscginfo'] as NationalObject
      const diagnoses = disWithFlag(inp['diseinfo'])
      const ops = exp(d)['operations'] as object[] | undefined
      return ev('visit.closed', {
        mdtrt_id: d['mdtrt_id'], psn_no: d['psn_no'], endtime: dt(String(d['endtime'])), dscg_way: d['dscg_way'],
        dscg_maindiag_code: diagnoses.find((x) => x.maindiag_flag === '1')?.diag_code, diagnoses,
        ...(ops ? { operations: ops } : d['oprn_oprt_code'] ? { operations: [{ oprn_oprt_code: d['oprn_oprt_code'], oprn_oprt_date: String(d['endtime']).slice(0, 10) }] } : {}),
      })
    }
    case '2207':
    case '2304': {
      const s = out!['setlinfo'] as NationalObject
      const g = exp(s)['pay_grp']
      return ev('settlement.completed', {
        setl_id: s['setl_id'], mdtrt_id: s['mdtrt_id'], psn_no: s['psn_no'], setl_time: dt(String(s['setl_time'])), med_type: s['med_type'], insutype: s['insutype'],
        medfee_sumamt: s['medfee_sumamt'], fulamt_ownpay_amt: s['fulamt_ownpay_amt'], inscp_scp_amt: s['inscp_scp_amt'], hifp_pay: s['hifp_pay'],
        fund_pay_sumamt: s['fund_pay_sumamt'], acct_pay: s['acct_pay'], psn_cash_pay: s['psn_cash_pay'] ?? s['pdn_cash_pay'],
        ...(s['hosp_part_amt'] !== undefined ? { hosp_part_amt: s['hosp_part_amt'] } : {}), ...(g ? { pay_grp: g } : {}),
      })
    }
    case '2208':
    case '2305': {
      const d = inp['data'] as NationalObject
      return ev('settlement.reversed', { setl_id: d['setl_id'], mdtrt_id: d['mdtrt_id'], psn_no: d['psn_no'] })
    }
    default: {
      const node = infno === '3503' ? 'purcinfo' : infno === '3505' || infno === '3506' ? 'selinfo' : 'invinfo'
      const d = inp[node] as NationalObject
      // 3501's 盘存日期 is a date: the time of the count is the transaction's.
      const time = { '3501': String(r['inf_time']), '3502': d['inv_chg_time'], '3503': d['purc_retn_stoin_time'], '3505': d['sel_retn_time'], '3506': d['sel_retn_time'] }[infno] as string
      const cnt = { '3501': d['inv_cnt'], '3502': d['cnt'], '3503': d['purc_retn_cnt'], '3505': d['sel_retn_cnt'], '3506': d['sel_retn_cnt'] }[infno]
      return ev('inventory.movement', {
        fixmedins_code: r['fixmedins_code'], med_list_codg: d['med_list_codg'], kind: KIND[infno], cnt, movement_time: dt(time), batch_no: d['fixmedins_bchno'],
        ...(d['setl_id'] ? { setl_id: d['setl_id'] } : {}), ...extrasOf(d, infno, node),
      })
    }
  }
}

const outpatientReversal = (e: AnyEvent): e is EventOf<'fee.reversed'> => e.event_type === 'fee.reversed' && !writer.visit(e.payload.mdtrt_id)!.inpatient

describe('the national writer', () => {
  it('writes every transaction with what both the Hunan and the Jiangxi specification require', () => {
    const infnos = new Set(records.map((r) => String(r.request['infno'])))
    for (const n of ['2201', '2203', '2204', '2205', '2207', '2208', '2301', '2304', '2401', '2402', '3501', '3502', '3503', '3505']) expect(infnos.has(n), n).toBe(true)
    expect(records.flatMap(missingRequired).slice(0, 10)).toEqual([])
    // Responses where the platform assigns what the adapter reads.
    for (const r of records) {
      const infno = String(r.request['infno'])
      expect(r.response !== undefined, infno).toBe(['2201', '2401', '2204', '2301', '2207', '2304'].includes(infno))
    }
  })

  it('writes the transactions the generator does not emit with their required fields too', () => {
    const w = new NationalWriter(kbData)
    const ev = events.find((e): e is EventOf<'visit.opened'> => e.event_type === 'visit.opened' && e.payload.med_type.startsWith('2'))!
    const otp = events.find((e): e is EventOf<'visit.opened'> => e.event_type === 'visit.opened' && e.payload.med_type === '11')!
    w.write(ev)
    w.write(otp)
    const at = (e: AnyEvent, id: string, type: string, payload: object): AnyEvent => ({ ...e, event_id: id, event_type: type, payload }) as AnyEvent
    const p = ev.payload
    const extra = [
      at(ev, `${ev.event_id.slice(0, 26)}9001`, 'visit.updated', { mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, adm_dept_codg: p.adm_dept_codg, atddr_no: p.atddr_no, diagnoses: p.diagnoses }),
      at(ev, `${ev.event_id.slice(0, 26)}9002`, 'visit.cancelled', { mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, cancels: 'discharge' }),
      at(ev, `${ev.event_id.slice(0, 26)}9003`, 'visit.cancelled', { mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, cancels: 'visit' }),
      at(otp, `${otp.event_id.slice(0, 26)}9004`, 'visit.cancelled', { mdtrt_id: otp.payload.mdtrt_id, psn_no: otp.payload.psn_no, cancels: 'visit' }),
      at(ev, `${ev.event_id.slice(0, 26)}9006`, 'fee.reversed', { mdtrt_id: p.mdtrt_id, psn_no: p.psn_no, feedetl_sns: [`${p.mdtrt_id}0001`, `${p.mdtrt_id}0002`] }),
      at(ev, `${ev.event_id.slice(0, 26)}9005`, 'inventory.movement', { fixmedins_code: ev.source.fixmedins_code, med_list_codg: kbData.catalog[0]!.med_list_codg, kind: 'return', cnt: '1', movement_time: ev.event_time, batch_no: 'B1' }),
    ]
    for (const e of extra) expect(AnyEvent.safeParse(e).success, e.event_type).toBe(true)
    const recs = extra.map((e) => w.write(e))
    expect(recs.map((r) => r.request['infno'])).toEqual(['2403', '2405', '2404', '2202', '2302', '3506'])
    expect(recs.flatMap(missingRequired)).toEqual([])
    expect(read(recs[0]!)).toEqual({ ...extra[0], payload: { ...extra[0]!.payload, med_type: p.med_type } })
    expect(read(recs[4]!)).toEqual(extra[4])
    expect(read(recs[5]!)).toEqual(extra[5])
  })

  it('sends the event id as the msgid: institution (12) + China time (14) + a 4-digit sequence, unique', () => {
    const ids = new Set<string>()
    for (const [i, r] of records.entries()) {
      const e = events[i]!
      const msgid = String(r.request['msgid'])
      expect(msgid).toBe(e.event_id)
      expect(msgid).toMatch(/^[HP]\d{11}\d{14}\d{4}$/)
      expect(msgid.slice(0, 12)).toBe(r.request['fixmedins_code'])
      expect(msgid.slice(12, 26)).toBe(String(r.request['inf_time']).replace(/[- :]/g, ''))
      ids.add(msgid)
    }
    expect(ids.size).toBe(records.length)
  })

  it('loses nothing the mapping recovers: reading each transaction back gives the contract event', () => {
    let reversals = 0
    for (const [i, rec] of records.entries()) {
      const e = events[i]!
      const back = read(rec)
      if (outpatientReversal(e)) {
        // 2205 withdraws a charge batch: the batch that holds exactly the reversed lines.
        reversals++
        const v = writer.visit(e.payload.mdtrt_id)!
        const b = (back.payload as { chrg_bchno: string }).chrg_bchno
        expect(v.batches.get(b)).toEqual(e.payload.feedetl_sns)
        expect(back).toEqual({ ...e, payload: { mdtrt_id: e.payload.mdtrt_id, psn_no: e.payload.psn_no, chrg_bchno: b } })
        continue
      }
      expect(back, `${e.event_type} ${e.event_id}`).toEqual(e)
      expect(AnyEvent.safeParse(back).success).toBe(true)
    }
    expect(reversals).toBeGreaterThan(0)
  })

  it('carries what the printed interface cannot in the documented expContent keys', () => {
    const lineHours = records.filter((r) => ['2204', '2301'].includes(String(r.request['infno']))).flatMap((r) => rows((r.request['input'] as NationalObject)['feedetail'])).filter((l) => exp(l)['hours'] !== undefined)
    const ops = records.filter((r) => r.request['infno'] === '2402').filter((r) => exp((r.request['input'] as NationalObject)['dscginfo'] as NationalObject)['operations'] !== undefined)
    const grp = records.filter((r) => ['2207', '2304'].includes(String(r.request['infno']))).filter((r) => exp((r.response!['output'] as NationalObject)['setlinfo'] as NationalObject)['pay_grp'] !== undefined)
    expect(lineHours.length).toBeGreaterThan(0)
    expect(ops.length).toBeGreaterThan(0)
    expect(grp.length).toBeGreaterThan(0)
  })

  it('gives a person without a certificate number a resident-ID 就诊凭证 that says their gender and birthday', () => {
    const bare = events.filter((e): e is EventOf<'visit.opened'> => e.event_type === 'visit.opened' && e.payload.psn !== undefined && e.payload.psn.certno === undefined)
    expect(bare.length).toBeGreaterThan(0)
    for (const e of bare) {
      const r = records[events.indexOf(e)]!
      const d = rows(((r.request['input'] as NationalObject)['data'] ?? (r.request['input'] as NationalObject)['mdtrtinfo']))[0]!
      expect(d['mdtrt_cert_type']).toBe('02')
      expect(d['certno']).toBeUndefined()
      expect(psnFrom(d)).toEqual({ gend: e.payload.psn!.gend, brdy: e.payload.psn!.brdy })
    }
  })
})

describe('generate --format national', () => {
  it('writes the same facts and labels as the contract format, the same bytes for the same seed', async () => {
    const small = { ...opts, persons: 120 }
    const base = await mkdtemp(join(tmpdir(), 'fw-national-'))
    dirs.push(base)
    const c = await writeDataset(join(base, 'c'), small)
    const n1 = await writeDataset(join(base, 'n1'), small, { format: 'national' })
    const n2 = await writeDataset(join(base, 'n2'), small, { format: 'national' })
    expect(n1.eventsFile.endsWith('national.jsonl')).toBe(true)
    const [cText, n1Text, n2Text] = await Promise.all([readFile(c.eventsFile, 'utf8'), readFile(n1.eventsFile, 'utf8'), readFile(n2.eventsFile, 'utf8')])
    expect(n2Text).toBe(n1Text)
    expect(await readFile(n1.labelsFile, 'utf8')).toBe(await readFile(c.labelsFile, 'utf8'))
    expect(await readFile(n1.nearMissesFile, 'utf8')).toBe(await readFile(c.nearMissesFile, 'utf8'))
    const cIds = cText.trimEnd().split('\n').map((l) => (JSON.parse(l) as AnyEvent).event_id)
    const nIds = n1Text.trimEnd().split('\n').map((l) => (JSON.parse(l) as NationalRecord).request['msgid'])
    expect(nIds).toEqual(cIds)
    expect(n1.counts).toEqual(c.counts)
    await expect(writeDataset(join(base, 'x'), small, { format: 'xml' as never })).rejects.toThrow(/format/)
  })
})

describe('msgid-shaped event ids', () => {
  it('stay unique when a second of one institution runs out of its 10,000 numbers, and repeat for a seed', () => {
    const ids = (seed: number): string[] => {
      const w = new World(kbData, seed, START, 1)
      return Array.from({ length: 10_005 }, () => w.nextEventId('H11010100001', START + 9 * 3600_000))
    }
    const a = ids(1)
    expect(new Set(a).size).toBe(a.length)
    expect(a.slice(0, 10_000).every((id) => id.slice(12, 26) === '20260302090000')).toBe(true)
    expect(a.slice(10_000).every((id) => id.slice(12, 26) === '20260302090001')).toBe(true)
    expect(ids(1)).toEqual(a)
    expect(ids(2)[0]).not.toBe(a[0])
  })
})
