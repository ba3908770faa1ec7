import type { AnyEvent } from '../../schemas/index.ts'
import { HOSPITAL, feeUploaded, institution, item, makeKb, settlementCompleted, visitClosed, visitOpened } from './detect.ts'

/** The small knowledge base the delivery tests run against. */
export const deliveryKb = makeKb({
  institutions: [institution(HOSPITAL, { level: 3 })],
  catalog: [item('SVC-1'), item('SVC-2'), item('DRUG-1', { list_type: 'drug', med_chrgitm_type: '09' })],
})

const iso = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().replace(/\.\d{3}Z$/, '+08:00')

/**
 * A deterministic claim stream for the delivery tests: `persons` people, each
 * with outpatient visits (open, fee lines, settlement); every `splitEvery`-th
 * person also has an inpatient stay and a readmission 6 days after discharge
 * (a split hospitalization the detector must catch, whatever the crashes).
 * Events of one person are in time order; persons interleave.
 */
export function claimStream(o: { persons: number; visitsPerPerson: number; linesPerVisit: number; splitEvery: number; tag: string }): { events: AnyEvent[]; splitPairs: [string, string][]; feeLines: number } {
  const perPerson: AnyEvent[][] = []
  const splitPairs: [string, string][] = []
  const t0 = Date.parse('2026-02-01T08:00:00+08:00')
  let feeLines = 0
  for (let p = 0; p < o.persons; p++) {
    const psn = `PSN${o.tag}${String(p).padStart(7, '0')}`
    const evs: AnyEvent[] = []
    let t = t0 + (p % 97) * 60_000
    if (p % o.splitEvery === 0) {
      const a = `${psn}A`, b = `${psn}B`
      evs.push(visitOpened({ event_id: `${a}-o`, psn_no: psn, mdtrt_id: a, begntime: iso(t), diagnoses: [{ diag_code: 'J18.900' }] }))
      evs.push(visitClosed({ event_id: `${a}-c`, psn_no: psn, mdtrt_id: a, endtime: iso(t + 4 * 86_400_000), dscg_maindiag_code: 'J18.900' }))
      evs.push(visitOpened({ event_id: `${b}-o`, psn_no: psn, mdtrt_id: b, begntime: iso(t + 10 * 86_400_000), diagnoses: [{ diag_code: 'J18.000' }] }))
      splitPairs.push([a, b])
      t += 12 * 86_400_000
    }
    for (let v = 0; v < o.visitsPerPerson; v++) {
      const m = `${psn}V${v}`
      t += 86_400_000
      evs.push(visitOpened({ event_id: `${m}-o`, psn_no: psn, mdtrt_id: m, begntime: iso(t), med_type: '11', diagnoses: [{ diag_code: 'J06.900' }] }))
      const lines = Array.from({ length: o.linesPerVisit }, (_, i) => ({
        feedetl_sn: `${m}L${i}`, fee_ocur_time: iso(t + (i + 1) * 60_000), med_list_codg: i % 3 === 0 ? 'DRUG-1' : i % 3 === 1 ? 'SVC-1' : 'SVC-2',
        list_type: (i % 3 === 0 ? 'drug' : 'service') as 'drug' | 'service', med_chrgitm_type: i % 3 === 0 ? '09' : '05',
      }))
      feeLines += lines.length
      evs.push(feeUploaded({ event_id: `${m}-f`, psn_no: psn, mdtrt_id: m, lines }))
      evs.push(settlementCompleted({ event_id: `${m}-s`, psn_no: psn, mdtrt_id: m, setl_id: `${m}S`, setl_time: iso(t + 3_600_000), med_type: '11' }))
    }
    perPerson.push(evs)
  }
  // Interleave persons round-robin: realistic arrival, still per-person ordered.
  const events: AnyEvent[] = []
  for (let i = 0; ; i++) {
    let any = false
    for (const evs of perPerson) {
      if (i >= evs.length) continue
      events.push(evs[i]!)
      any = true
    }
    if (!any) break
  }
  return { events, splitPairs, feeLines }
}

export { iso as cnIsoOf, HOSPITAL }
