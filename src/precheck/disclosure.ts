import type { Alert, Text } from '../../schemas/index.ts'
import type { Notice } from '../detect/types.ts'
import type { KnowledgeBase } from '../kb/knowledge-base.ts'
import type { PersonState, VisitState } from '../state/types.ts'
import { cnDate, cnIso } from '../util/time.ts'

/**
 * The pre-check's disclosure rule (docs/api.md, "Pre-check disclosure"), in
 * one place for every detector's pre-stage output. A pre-check answer goes to
 * the institution that sent the draft. It may tell that institution what it
 * needs to act — the person is recorded as deceased, has an overlapping stay
 * elsewhere, has been supplied too much of a drug — but never another
 * institution's identifiers (codes, visit, settlement, event and line ids,
 * doctor and department codes), names, times, diagnoses or lines.
 *
 * A finding that rests only on the draft institution's own records is
 * answered as it is. A finding that touches another institution's records
 * (its refs or subject name one, or its text quotes one) is answered in a
 * reduced form: the detector's notice (a message and facts written to be
 * safe to disclose) or, without one, a generic message from the detector's
 * title; refs and subject cut to the institution's own records; the time of
 * the draft event; the amount only when the subject is the institution's own.
 */
export class DisclosureScope {
  /** The draft's institutions: whose records the answer may show. */
  readonly institutions: ReadonlySet<string>
  private readonly ownIds = new Set<string>()
  private readonly ownLineSns = new Set<string>()
  /** Strings that would disclose another institution's record if they appeared in an answer. */
  private readonly foreign: string[] = []

  constructor(person: PersonState, institutions: ReadonlySet<string>, kb: KnowledgeBase, draftEventIds: Iterable<string>) {
    this.institutions = institutions
    for (const id of draftEventIds) this.ownIds.add(id)
    const ownTokens = new Set<string>()
    const ownDates = new Set<string>()
    const ownTimes = new Set<string>()
    const theirs: VisitState[] = []
    for (const v of person.visits.values()) {
      if (!institutions.has(v.fixmedins_code)) {
        theirs.push(v)
        continue
      }
      for (const id of visitIds(v)) this.ownIds.add(id)
      for (const l of v.lines.values()) this.ownLineSns.add(l.feedetl_sn)
      for (const t of visitTokens(v)) ownTokens.add(t)
      for (const d of visitDates(v)) ownDates.add(d)
      for (const t of visitTimes(v)) ownTimes.add(t)
    }
    for (const i of institutions) ownTokens.add(i)
    const foreign = new Set<string>()
    for (const v of theirs) {
      const name = kb.institutions.get(v.fixmedins_code)?.name
      for (const t of [...visitIds(v), ...visitTokens(v), ...(name ? [name] : [])]) if (!ownTokens.has(t)) foreign.add(t)
      // A day or a minute the institution's own records show anyway discloses nothing.
      for (const d of visitDates(v)) if (!ownDates.has(d)) foreign.add(d)
      for (const t of visitTimes(v)) if (!ownTimes.has(t)) foreign.add(t)
    }
    // Short strings (a line id "1", a code "D01") would match anything: ids and codes this short are checked through the refs only.
    for (const t of foreign) if (t.length >= 4) this.foreign.push(t)
  }

  /** Whether an answer's text or facts quote another institution's record. */
  quotesForeign(v: unknown): boolean {
    const s = JSON.stringify(v)
    for (const t of this.foreign) if (s.includes(t)) return true
    return false
  }

  private ownRef(id: string): boolean {
    return this.ownIds.has(id)
  }

  /** The finding as the draft institution may see it. */
  disclose(a: Alert, notice: Notice | undefined, draftEventTime: string): Alert {
    const subjectOwn = this.institutions.has(a.subject.fixmedins_code)
      && (a.subject.mdtrt_id === undefined || this.ownRef(a.subject.mdtrt_id))
      && (a.subject.setl_id === undefined || this.ownRef(a.subject.setl_id))
    const refsOwn = a.refs.mdtrt_ids.every((id) => this.ownRef(id)) && a.refs.setl_ids.every((id) => this.ownRef(id))
      && a.refs.event_ids.every((id) => this.ownRef(id)) && a.refs.feedetl_sns.every((sn) => this.ownLineSns.has(sn))
    if (subjectOwn && refsOwn && !this.quotesForeign([a.message, a.evidence, a.subject, a.event_time])) return a

    const safeNotice = notice !== undefined && !this.quotesForeign(notice) ? notice : undefined
    const fixmedins_code = subjectOwn ? a.subject.fixmedins_code : [...this.institutions][0]!
    const mdtrt_id = a.subject.mdtrt_id !== undefined && this.ownRef(a.subject.mdtrt_id) ? a.subject.mdtrt_id : a.refs.mdtrt_ids.find((id) => this.ownRef(id))
    return {
      ...a,
      subject: {
        fixmedins_code,
        ...(a.subject.psn_no === undefined ? {} : { psn_no: a.subject.psn_no }),
        ...(mdtrt_id === undefined ? {} : { mdtrt_id }),
        ...(subjectOwn && a.subject.doctor !== undefined ? { doctor: a.subject.doctor } : {}),
        ...(a.subject.setl_id !== undefined && this.ownRef(a.subject.setl_id) ? { setl_id: a.subject.setl_id } : {}),
      },
      refs: {
        mdtrt_ids: a.refs.mdtrt_ids.filter((id) => this.ownRef(id)),
        feedetl_sns: a.refs.feedetl_sns.filter((sn) => this.ownLineSns.has(sn)),
        setl_ids: a.refs.setl_ids.filter((id) => this.ownRef(id)),
        event_ids: a.refs.event_ids.filter((id) => this.ownRef(id)),
      },
      // The amount of a finding about another institution's record is that institution's money.
      amount_at_risk: subjectOwn ? a.amount_at_risk : '0.00',
      message: safeNotice?.message ?? genericNotice(a.title),
      evidence: { disclosure: 'other_institutions', ...(subjectOwn ? {} : { amount_withheld: true }), ...(safeNotice?.evidence ?? {}) },
      event_time: draftEventTime,
    }
  }
}

function genericNotice(title: Text): Text {
  return {
    zh: `${title.zh}：涉及参保人在其他机构的就医记录，请核实后再结算(详情由医保部门核查)`,
    en: `${title.en}: rests on the insured person's records at another institution; confirm before settling (the insurance bureau reviews the details)`,
  }
}

/** The ids an alert's refs and subject may name. */
function visitIds(v: VisitState): string[] {
  const ids = [v.mdtrt_id]
  if (v.open_event_id) ids.push(v.open_event_id)
  if (v.close_event_id) ids.push(v.close_event_id)
  for (const l of v.lines.values()) ids.push(l.event_id)
  for (const s of v.settlements.values()) ids.push(s.setl_id, s.event_id)
  return ids
}

/** Codes of a visit that name its institution's people and places, and its diagnoses. */
function visitTokens(v: VisitState): string[] {
  const t = [v.fixmedins_code, v.atddr_no, v.adm_dept_codg, ...v.diagnoses.map((d) => d.diag_code)]
  if (v.dscg_maindiag_code) t.push(v.dscg_maindiag_code)
  for (const l of v.lines.values()) t.push(l.bilg_dr_codg, l.bilg_dept_codg)
  return t.filter((x) => x !== '')
}

function visitMoments(v: VisitState): number[] {
  const ms: number[] = []
  if (v.begntime > 0) ms.push(v.begntime)
  if (v.endtime !== undefined) ms.push(v.endtime)
  for (const l of v.lines.values()) ms.push(l.fee_ocur_time)
  for (const s of v.settlements.values()) ms.push(s.setl_time)
  return ms
}

function visitDates(v: VisitState): string[] {
  return visitMoments(v).map(cnDate)
}

/** Times to the minute, as answers write them (2026-03-02T09:15). */
function visitTimes(v: VisitState): string[] {
  return visitMoments(v).map((ms) => cnIso(ms).slice(0, 16))
}
