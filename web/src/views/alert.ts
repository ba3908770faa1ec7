import { ApiError, api, withPurpose } from '../api.ts'
import { h, mount, typing } from '../dom.ts'
import { dueIn, money, when } from '../format.ts'
import { colon, counted, getLang, label, pick, t } from '../i18n.ts'
import { announce, onLive } from '../live.ts'
import { go } from '../nav.ts'
import { getMe } from '../session.ts'
import { OPEN_STATUSES, isDegraded, type AlertDetail, type EvidenceLabels, type AlertItem, type FeeLine, type Feedback, type Settlement, type Status, type Workflow } from '../types.ts'
import { atRisk, fail, lifecycleTag, toast } from '../ui.ts'
import { chooseForward, confirmMove, forwardMoves, movesFrom, moveLabel, performMove, statusLabel, type Move } from '../workflow.ts'
import { evidenceLabel } from '../../../src/detect/evidence.ts'
import { detectorCatalog } from '../catalog.ts'
import { createCaseDialog } from './cases.ts'
import { feedUrl, neighbours, noteWorkflow } from './feed.ts'

/** The detail of an alert that came whole (a degraded one is shown as a notice instead). */
type Detail = Omit<AlertDetail, 'alert'> & { alert: AlertItem }

// One alert, with everything a reviewer needs to decide without leaving the
// page: what was found and why (evidence, policy basis), the claim lines
// behind it laid out per visit with the cited lines highlighted, and the
// handling process with its deadline, owner and record.

const PROCESS: Status[] = ['new', 'first_review', 'second_review', 'appeal', 'investigation', 'decided']

const MED_TYPE: Record<string, [string, string]> = {
  '11': ['普通门诊', 'Outpatient'], '12': ['门诊挂号', 'Registration'], '13': ['急诊', 'Emergency'], '14': ['门诊慢特病', 'Chronic outpatient'],
  '21': ['普通住院', 'Inpatient'], '41': ['定点药店购药', 'Pharmacy'], '51': ['生育门诊', 'Maternity outpatient'], '52': ['生育住院', 'Maternity inpatient'],
}
const LIST_TYPE: Record<string, [string, string]> = { drug: ['西药', 'Drug'], herb: ['中药', 'Herb'], service: ['诊疗', 'Service'], consumable: ['耗材', 'Consumable'] }

const both = (m: Record<string, [string, string]>, k: string): string => (m[k] ? m[k][getLang() === 'zh' ? 0 : 1] : k)

export function alertView(root: HTMLElement, params: string[]): () => void {
  const id = params[0]!
  let data: Detail | null = null
  let refsOnly = false
  let disposed = false
  let labels: EvidenceLabels = {}
  mount(root, h('div', { class: 'muted' }, t('loading')))

  const load = async (): Promise<void> => {
    try {
      // The evidence is named by the detector's own labels (from the catalog); without them the raw keys still show.
      const [res, catalog] = await Promise.all([api.get<AlertDetail>(`/alerts/${id}`, withPurpose()), detectorCatalog().catch(() => [])])
      if (disposed) return
      labels = isDegraded(res.alert) ? {} : catalog.find((d) => !isDegraded(res.alert) && d.id === res.alert.detector.id)?.evidence_labels ?? {}
      const alert = res.alert
      if (isDegraded(alert)) {
        mount(root, backLink(), h('p', { class: 'error', id: 'degraded' }, `${counted(1, 'degraded')}: ${alert.alert_id} (${alert.problem})`))
        return
      }
      data = { ...res, alert }
      draw()
    } catch (e) {
      if (disposed) return
      if (e instanceof ApiError && e.status === 404) mount(root, backLink(), h('p', { class: 'error' }, t('alert.notFound')))
      else fail(e)
    }
  }

  const backLink = () => h('a', { href: feedUrl(), class: 'muted', id: 'back' }, '← ', t('alert.back'), ' ', h('kbd', null, 'Esc'))

  function draw(): void {
    const d = data!
    const a = d.alert
    const nb = neighbours(a.alert_id)
    const canCase = getMe()?.role === 'inspector' || getMe()?.role === 'admin'
    mount(root,
      h('div', { class: 'row', style: 'margin-bottom:8px' },
        backLink(),
        h('span', { class: 'grow' }),
        nb.prev ? h('a', { href: `/alerts/${nb.prev}`, id: 'prev' }, getLang() === 'zh' ? '上一条 ' : 'Previous ', h('kbd', null, 'k')) : null,
        nb.next ? h('a', { href: `/alerts/${nb.next}`, id: 'next' }, getLang() === 'zh' ? '下一条 ' : 'Next ', h('kbd', null, 'j')) : null),
      h('div', { class: 'detail' },
        h('div', { class: 'stack' },
          headline(a),
          revisionPanel(a),
          h('section', { class: 'panel' },
            h('h2', null, t('alert.message')),
            h('div', { class: 'body' }, pick(a.message))),
          h('section', { class: 'panel', id: 'evidence' },
            h('h2', null, t('alert.evidence')),
            h('div', { class: 'body' }, evidenceTable(a.evidence)),
            h('div', { class: 'basis' }, h('div', { class: 'muted', style: 'font-size:11px' }, t('alert.basis')), pick(a.basis))),
          timeline(d)),
        h('aside', { class: 'side' },
          workflowPanel(a, d),
          canCase ? h('section', { class: 'panel' }, h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => void newCase(a) }, t('cases.new')))) : null,
          feedbackPanel(d),
          personPanel(d),
          historyPanel(d))))
  }

  function headline(a: AlertItem): HTMLElement {
    return h('section', { class: `panel headline${a.status === 'withdrawn' ? ' withdrawn' : ''}` },
      h('div', null,
        h('h1', null, h('span', { class: `sev ${a.severity}` }, label('sev', a.severity)), h('span', { class: `tag ${a.result}` }, label('result', a.result)), lifecycleTag(a), pick(a.title))),
      h('div', { class: 'big', id: 'amount' }, atRisk(a, { big: true }), h('small', null, t('alert.amount'))),
      h('div', { class: 'meta' },
        h('span', null, `${t('alert.detector')}${colon()}`, h('span', { class: 'mono' }, `${a.detector.id}@${a.detector.version}`)),
        h('span', null, `${t('col.institution')}${colon()}`, a.institution_name ?? '', ' ', h('span', { class: 'mono' }, a.subject.fixmedins_code)),
        a.subject.psn_no ? h('span', null, `${t('col.person')}${colon()}`, h('span', { class: 'mono' }, a.subject.psn_no)) : null,
        a.subject.doctor ? h('span', null, `${t('tl.doctor')}${colon()}`, h('span', { class: 'mono' }, a.subject.doctor)) : null,
        h('span', null, `${t('col.stage')}${colon()}${label('stage', a.stage)}`),
        h('span', null, `${t('alert.eventTime')}${colon()}${when(a.event_time)}`),
        h('span', null, `${t('alert.detectedAt')}${colon()}${when(a.detected_at)}`),
        h('span', { class: 'faint mono' }, a.alert_id)))
  }

  /**
   * What later facts did to the alert: withdrawn (why, by which event, when;
   * its review record is kept and can be closed) or updated (which revision,
   * since when). Nothing for an alert as first raised.
   */
  function revisionPanel(a: AlertItem): HTMLElement | null {
    const zh = getLang() === 'zh'
    const revision = zh ? `第 ${a.revision} 版` : `Revision ${a.revision}`
    if (a.status === 'withdrawn') {
      return h('section', { class: 'panel banner withdrawn', id: 'lifecycle', 'data-status': a.status, 'data-reason': a.withdrawn_reason ?? '' },
        h('h2', null, t('withdrawn.title'), h('span', { class: 'grow' }), h('span', { class: 'faint' }, revision)),
        h('div', { class: 'body' },
          h('table', { class: 'kv' },
            h('tr', null, h('th', null, t('withdrawn.reason')), h('td', { id: 'withdrawn-reason' }, label('withdrawn', a.withdrawn_reason) || '—')),
            h('tr', null, h('th', null, t('withdrawn.event')), h('td', { class: 'mono', id: 'withdrawn-event' }, a.revision_event_id ?? '—')),
            h('tr', null, h('th', null, t('withdrawn.at')), h('td', { id: 'withdrawn-at' }, when(a.revised_at)))),
          h('p', { class: 'muted' }, t('withdrawn.review'))))
    }
    if (a.status === 'updated') {
      return h('section', { class: 'panel banner updated', id: 'lifecycle', 'data-status': a.status },
        h('div', { class: 'body' },
          h('b', { id: 'revision' }, zh ? `${revision}，${when(a.revised_at)} 更新` : `${revision}, updated ${when(a.revised_at)}`),
          a.revision_event_id ? h('span', { class: 'muted' }, ` · ${t('revision.event')}${colon()}`, h('span', { class: 'mono' }, a.revision_event_id)) : null,
          h('div', { class: 'faint' }, t('revision.updated'))))
    }
    return null
  }

  function workflowPanel(a: AlertItem, d: Detail): HTMLElement {
    const wf = a.workflow
    const s = wf.status
    // Steps this alert went through (申诉 is often skipped): from its record, not from the order alone.
    const visited = new Set<Status>(d.history.flatMap((x) => (x.kind === 'transition' ? [x.from, ...(x.to ? [x.to] : [])] : [])))
    const due = dueIn(wf.due_at)
    const moves = movesFrom(s)
    const primary = confirmMove(s)
    const forward = forwardMoves(s)
    const button = (m: Move, cls: string) => h('button', { type: 'button', class: cls, 'data-to': m.to, onclick: () => void doMove(m) }, moveLabel(m))
    return h('section', { class: 'panel', id: 'workflow' },
      h('h2', null, t('alert.workflow'), h('span', { class: 'grow' }), h('span', { class: `tag ${s === 'decided' || s === 'dismissed' ? s : 'step'}`, id: 'status' }, statusLabel(s))),
      h('ol', { class: 'steps' }, PROCESS.slice(1).map((p) => h('li', { class: p === s ? 'now' : s === 'dismissed' ? 'dead' : visited.has(p) ? 'past' : '' }, statusLabel(p)))),
      h('div', { class: 'body' },
        h('table', { class: 'kv' },
          h('tr', null, h('th', null, t('alert.deadline')), h('td', { class: wf.overdue ? 'due-late' : due.soon ? 'due-soon' : '' },
            wf.due_at ? `${when(wf.due_at)}（${due.text}）` : '—', wf.overdue ? h('span', { class: 'tag overdue', style: 'margin-left:6px' }, t('overdue')) : null)),
          h('tr', null, h('th', null, t('alert.assignee')), h('td', null, wf.assignee_name ?? h('span', { class: 'faint' }, t('alert.unassigned')), ' ',
            OPEN_STATUSES.includes(s) && wf.assignee !== getMe()?.id ? h('button', { type: 'button', style: 'padding:0 6px;font-size:12px', onclick: () => void assignMe(a) }, t('act.assignMe')) : null)),
          wf.dismiss_reason ? h('tr', null, h('th', null, t('act.reason')), h('td', null, wf.dismiss_reason)) : null,
          wf.decision ? h('tr', null, h('th', null, statusLabel('decided')), h('td', null, `${wf.decision.measures}；${getLang() === 'zh' ? '追回' : 'recovered'} ${money(wf.decision.recovered_amount)}，${getLang() === 'zh' ? '罚款' : 'penalty'} ${money(wf.decision.penalty_amount)}`)) : null)),
      h('div', { class: 'actions' },
        primary ? h('button', { type: 'button', class: 'primary', id: 'confirm', 'data-to': primary.to, onclick: () => void doMove(primary) }, `${t('act.confirm')} → ${statusLabel(primary.to)}`, ' ', h('kbd', null, 'c')) : null,
        forward.filter((m) => m.to !== primary?.to).map((m) => button(m, '')),
        moves.filter((m) => m.to === 'dismissed').map((m) => button(m, 'danger')),
        moves.filter((m) => m.reopen).map((m) => button(m, ''))))
  }

  function personPanel(d: Detail): HTMLElement | null {
    const v = d.visits[0]
    if (!v) return null
    return h('section', { class: 'panel', id: 'person' },
      h('h2', null, t('col.person'), h('span', { class: 'grow' }), d.revealed ? h('span', { class: 'tag overdue' }, t('purpose.active').replace(/[：:]\s*$/, '')) : h('span', { class: 'faint' }, t('masked.note'))),
      h('div', { class: 'body' }, h('table', { class: 'kv' },
        h('tr', null, h('th', null, 'psn_no'), h('td', { class: 'mono' }, v.psn_no)),
        h('tr', null, h('th', null, getLang() === 'zh' ? '姓名' : 'Name'), h('td', { id: 'psn-name' }, v.psn_name || '—')),
        h('tr', null, h('th', null, getLang() === 'zh' ? '身份证号' : 'ID number'), h('td', { class: 'mono', id: 'certno' }, v.certno || '—')),
        h('tr', null, h('th', null, getLang() === 'zh' ? '性别' : 'Sex'), h('td', null, v.gend === '1' ? (getLang() === 'zh' ? '男' : 'M') : v.gend === '2' ? (getLang() === 'zh' ? '女' : 'F') : '—')),
        h('tr', null, h('th', null, getLang() === 'zh' ? '出生' : 'Born'), h('td', { class: 'mono' }, v.brdy || '—')))))
  }

  /**
   * The institution's own answers to the warning (national 3103), beside the
   * review: continued as written, with its reason, or sent back for correction.
   * Given before the alert was stored, it was an answer to the pre-check; it shows all the same.
   */
  function feedbackPanel(d: Detail): HTMLElement {
    const items = [...d.feedback].sort((x, y) => (x.received_at < y.received_at ? 1 : -1))
    const item = (f: Feedback) => h('li', { 'data-feedback': f.feedback_id, 'data-dspo-way': f.dspo_way },
      h('div', null,
        h('span', { class: `tag ${f.dspo_way === '2' ? 'violation' : 'confirmed'}` }, t(f.dspo_way === '2' ? 'fb.returned' : 'fb.continued')), ' ',
        h('span', { class: 'faint' }, t(f.warn_type === '2' ? 'fb.in' : 'fb.pre')), ' · ',
        f.institution_name ?? '', ' ', h('span', { class: 'mono faint' }, f.fixmedins_code)),
      f.dspo_way_rea ? h('div', { class: 'fb-reason' }, `${t('fb.reason')}${colon()}${f.dspo_way_rea}`) : f.dspo_way === '1' ? h('div', { class: 'faint' }, t('fb.noReason')) : null,
      h('div', { class: 'when' }, `${t('fb.operator')}${colon()}${f.opter_name} `, h('span', { class: 'mono faint' }, f.opter), ` · ${t('fb.sent')} ${when(f.inf_time)}`),
      f.against === 'finding' ? h('div', { class: 'faint', style: 'font-size:11px' }, t('fb.againstFinding')) : null)
    return h('section', { class: 'panel', id: 'feedback' },
      h('h2', null, t('fb.title')),
      items.length ? h('ul', { class: 'history' }, items.map(item)) : h('div', { class: 'body faint' }, t('fb.none')))
  }

  function historyPanel(d: Detail): HTMLElement {
    const items = [...d.history].sort((x, y) => (x.at < y.at ? 1 : -1))
    return h('section', { class: 'panel', id: 'history' },
      h('h2', null, t('alert.history')),
      items.length
        ? h('ul', { class: 'history' }, items.map((x) => h('li', null,
          h('div', null, h('b', null, x.kind === 'assign' ? t('act.assign') : `${statusLabel(x.from)} → ${x.to ? statusLabel(x.to) : ''}`), ' · ', x.by_name, ' ', h('span', { class: 'faint' }, label('role', x.role))),
          x.reason ? h('div', null, x.reason) : null,
          x.decision ? h('div', null, `${x.decision.measures} · ${money(x.decision.recovered_amount)}`) : null,
          h('div', { class: 'when' }, when(x.at)))))
        : h('div', { class: 'body faint' }, t('alert.noHistory')))
  }

  function evidenceTable(ev: Record<string, unknown>): HTMLElement {
    // Each key by the name its detector declared (the raw key beside it, faint, for whoever reads the API); enumerated values by theirs.
    const name = (k: string) => {
      const l = evidenceLabel(labels, k)
      return l ? h('span', null, pick(l), ' ', h('span', { class: 'faint mono' }, k)) : h('span', { class: 'mono' }, k)
    }
    const scalar = (k: string | undefined, v: unknown): string => {
      if (v === null || v === undefined) return '—'
      if (typeof v === 'boolean') return t(v ? 'yes' : 'no')
      const named = k === undefined || typeof v !== 'string' ? undefined : evidenceLabel(labels, k)?.values?.[v]
      return named ? pick(named) : String(v)
    }
    const value = (k: string, v: unknown): Node => {
      if (v === null || typeof v !== 'object') return document.createTextNode(scalar(k, v))
      if (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null)) return document.createTextNode(v.map((x) => scalar(k, x)).join('，'))
      // Nested facts (a line, a window): one compact row of key: value pairs per object; a keyed map (amounts by item code) keeps its keys.
      const keyed = evidenceLabel(labels, k)?.keyed === true
      const objs = Array.isArray(v) ? v : [v]
      return h('div', null, objs.map((o) => h('div', { class: 'evidence-obj' }, Object.entries(o as Record<string, unknown>).map(([ik, x]) =>
        h('span', { title: ik }, h('span', { class: 'faint' }, `${keyed ? ik : pick(evidenceLabel(labels, ik)) || ik} `), typeof x === 'object' && x !== null ? JSON.stringify(x) : scalar(ik, x))))))
    }
    return h('table', { class: 'kv' }, Object.entries(ev).map(([k, v]) => h('tr', { 'data-key': k }, h('th', null, name(k)), h('td', { class: 'evidence-val' }, value(k, v)))))
  }

  /** The visits behind the alert, each with its fee lines in time order and its settlements; cited lines highlighted. */
  function timeline(d: Detail): HTMLElement {
    const a = d.alert
    const refLines = new Set(a.refs.feedetl_sns)
    const refSetl = new Set(a.refs.setl_ids)
    const ids = [...new Set([...d.visits.map((v) => v.mdtrt_id), ...d.fee_lines.map((l) => l.mdtrt_id), ...d.settlements.map((s) => s.mdtrt_id)])]
    const begin = (mid: string) => d.visits.find((v) => v.mdtrt_id === mid)?.begntime ?? d.fee_lines.find((l) => l.mdtrt_id === mid)?.fee_ocur_time ?? ''
    ids.sort((x, y) => (begin(x) < begin(y) ? -1 : 1))
    const body = h('div', { class: 'timeline' })
    const drawBody = (): void => {
      mount(body, ids.length ? ids.map((mid) => {
        const v = d.visits.find((x) => x.mdtrt_id === mid)
        // The discharge that stands (the latest not withdrawn); a withdrawn one (national 2405) is shown as such.
        const dis = d.discharges.filter((x) => x.mdtrt_id === mid && x.cancelled_at === null).at(-1)
        const withdrawnDischarges = d.discharges.filter((x) => x.mdtrt_id === mid && x.cancelled_at !== null)
        let lines = d.fee_lines.filter((l) => l.mdtrt_id === mid).sort((x, y) => (x.fee_ocur_time < y.fee_ocur_time ? -1 : x.fee_ocur_time > y.fee_ocur_time ? 1 : x.feedetl_sn < y.feedetl_sn ? -1 : 1))
        let setls = d.settlements.filter((s) => s.mdtrt_id === mid)
        if (refsOnly) {
          lines = lines.filter((l) => l.flagged || refLines.has(l.feedetl_sn))
          setls = setls.filter((s) => refSetl.has(s.setl_id))
        }
        const cited = a.refs.mdtrt_ids.includes(mid)
        return h('div', { class: 'visit', 'data-mdtrt': mid },
          h('div', { class: 'vhead' },
            h('b', null, `${t('tl.visit')} `, h('span', { class: 'mono' }, mid)), cited ? h('span', { class: 'tag violation' }, '★') : null,
            v ? h('span', null, both(MED_TYPE, v.med_type)) : null,
            v?.cancelled_at ? h('span', { class: 'tag withdrawn', 'data-cancelled': v.cancelled_at }, `${t('tl.cancelled')} ${when(v.cancelled_at)}`) : null,
            v ? h('span', null, `${t('tl.admission')} ${when(v.begntime)}`) : null,
            dis ? h('span', null, `${t('tl.discharge')} ${when(dis.endtime)}`) : null,
            ...withdrawnDischarges.map((x) => h('span', { class: 'faint', 'data-discharge-cancelled': x.cancelled_at }, `${t('tl.discharge')} ${when(x.endtime)} (${t('tl.reversed')})`)),
            v ? h('span', null, `${t('tl.dept')} ${v.adm_dept_codg}`) : null,
            v ? h('span', null, `${t('tl.doctor')} `, h('span', { class: 'mono' }, v.atddr_no)) : null,
            v?.diagnoses.length ? h('span', null, `${t('tl.diag')} `, (dis?.diagnoses.length ? dis.diagnoses : v.diagnoses).map((g) => `${g.diag_code} ${g.diag_name}`).join('；')) : null),
          lines.length || setls.length
            ? h('table', { class: 'grid' },
              h('thead', null, h('tr', null, ['tl.time', 'tl.line', 'tl.code', 'tl.name', 'tl.type', 'tl.cnt', 'tl.pric', 'tl.sum', 'tl.dept', 'tl.doctor'].map((k, i) => h('th', { class: i >= 5 && i <= 7 ? 'num' : '' }, t(k as Parameters<typeof t>[0]))))),
              h('tbody', null,
                lines.map((l) => lineRow(l, l.flagged || refLines.has(l.feedetl_sn), l.reversed)),
                setls.map((s) => setlRow(s, refSetl.has(s.setl_id), s.reversed))))
            : h('div', { class: 'body faint' }, t('tl.empty')))
      }) : h('div', { class: 'body faint' }, t('tl.empty')))
    }
    drawBody()
    const count = d.fee_lines.length
    return h('section', { class: 'panel', id: 'timeline' },
      h('header', null, t('alert.timeline'), h('span', { class: 'faint' }, `${counted(ids.length, 'visit')} · ${counted(count, 'line')} · ${counted(d.settlements.length, 'settlement')}`), h('span', { class: 'grow' }),
        h('label', { class: 'row', style: 'font-weight:400' }, h('input', { type: 'checkbox', checked: refsOnly, onchange: (e: Event) => { refsOnly = (e.target as HTMLInputElement).checked; drawBody() } }), t('alert.refsOnly'))),
      body)
  }

  function lineRow(l: FeeLine, ref: boolean, rev: boolean): HTMLElement {
    return h('tr', { class: [ref && 'ref', rev && 'reversed'].filter(Boolean).join(' '), 'data-sn': l.feedetl_sn, title: rev ? t('tl.reversed') : null },
      h('td', { class: 'nowrap' }, when(l.fee_ocur_time)),
      h('td', { class: 'mono' }, l.feedetl_sn),
      h('td', { class: 'mono' }, l.med_list_codg),
      h('td', null, l.item_name ?? '', rev ? h('span', { class: 'faint' }, ` (${t('tl.reversed')})`) : null),
      h('td', null, both(LIST_TYPE, l.list_type)),
      h('td', { class: 'num' }, l.cnt, l.prd_days ? h('span', { class: 'faint' }, ` /${l.prd_days}${getLang() === 'zh' ? '天' : 'd'}`) : null, l.hours ? h('span', { class: 'faint' }, ` ${l.hours}h`) : null),
      h('td', { class: 'num' }, money(l.pric)),
      h('td', { class: 'num amount' }, money(l.det_item_fee_sumamt)),
      h('td', null, l.bilg_dept_codg),
      h('td', { class: 'mono' }, l.bilg_dr_codg))
  }

  function setlRow(s: Settlement, ref: boolean, rev: boolean): HTMLElement {
    const zh = getLang() === 'zh'
    return h('tr', { class: ['setl', ref && 'ref', rev && 'reversed'].filter(Boolean).join(' '), 'data-setl': s.setl_id },
      h('td', { class: 'nowrap' }, when(s.setl_time)),
      h('td', { class: 'mono' }, s.setl_id),
      h('td', { colspan: 3 }, h('b', null, t('tl.settlement')), s.pay_grp_code ? ` · ${s.pay_grp_type} ${s.pay_grp_code}（${zh ? '权重' : 'weight'} ${s.pay_grp_weight}）` : '', rev ? ` (${t('tl.reversed')})` : ''),
      h('td', { colspan: 5, class: 'num' },
        `${t('tl.total')} ${money(s.medfee_sumamt)} · ${t('tl.hifp')} ${money(s.hifp_pay)} · ${t('tl.fund')} ${money(s.fund_pay_sumamt)} · ${t('tl.cash')} ${money(s.psn_cash_pay)}`))
  }

  async function doMove(m: Move): Promise<void> {
    if (!data) return
    const a = data.alert
    try {
      const wf = await performMove(a.alert_id, a.workflow, m, a)
      if (!wf) return
      toast(`${t('act.done')}${colon()}${statusLabel(wf.status)}`)
      applyWorkflow(wf, true)
      // The record and the deadline are the server's: read them back.
      await load()
    } catch (e) {
      fail(e)
      if (e instanceof ApiError && e.code === 'CONFLICT') await load()
    }
  }

  async function assignMe(a: AlertItem): Promise<void> {
    try {
      const res = await api.post<{ workflow: Workflow }>(`/alerts/${a.alert_id}/assign`, { assignee: getMe()!.id, version: a.workflow.version })
      applyWorkflow(res.workflow, true)
      await load()
    } catch (e) {
      fail(e)
    }
  }

  function applyWorkflow(wf: Workflow, mine: boolean): void {
    if (!data) return
    data.alert.workflow = wf
    noteWorkflow(data.alert.alert_id, wf, mine)
    if (mine) announce({ type: 'workflow', alert_id: data.alert.alert_id, workflow: wf })
  }

  async function newCase(a: AlertItem): Promise<void> {
    const created = await createCaseDialog([a])
    if (created) go(`/cases/${created}`)
  }

  const offLive = onLive((e) => {
    // A new revision of this alert (withdrawn, updated): read it back with its evidence.
    if (e.type === 'alert') {
      if (e.alert.alert_id === id && data && e.alert.revision > data.alert.revision) void load()
      return
    }
    if (e.alert_id !== id || !data || e.workflow.version <= data.alert.workflow.version) return
    // Someone else moved it: show the new state and its record.
    applyWorkflow(e.workflow, false)
    void load()
  })

  const onKey = (e: KeyboardEvent): void => {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey || !data) return
    const s = data.alert.workflow.status
    const nb = neighbours(id)
    switch (e.key) {
      case 'Escape': go(feedUrl()); break
      case 'j': if (nb.next) go(`/alerts/${nb.next}`, true); break
      case 'k': if (nb.prev) go(`/alerts/${nb.prev}`, true); break
      case 'c': { const m = confirmMove(s); if (m) void doMove(m); break }
      case 'd': { const m = movesFrom(s).find((x) => x.to === 'dismissed'); if (m) void doMove(m); break }
      case 'e': void chooseForward(s).then((m) => m && doMove(m)); break
      default: return
    }
    e.preventDefault()
  }
  document.addEventListener('keydown', onKey)
  void load()
  return () => {
    disposed = true
    offLive()
    document.removeEventListener('keydown', onKey)
  }
}
