import type { Alert, Diagnosis } from '../../schemas/index.ts'

/**
 * Per-person state held by the processor that owns the person's partition: a
 * bounded window of the person's visits with their lines and settlements. It
 * is a cache over ClickHouse history (see state/loader.ts): on a miss it is
 * rebuilt from the stored rows, so everything here must be derivable from them.
 * Times are epoch milliseconds; money and quantities are numbers (yuan, units),
 * formatted back to 2-decimal strings only at the boundary.
 */
export interface FeeLineState {
  feedetl_sn: string
  mdtrt_id: string
  event_id: string
  fee_ocur_time: number
  med_list_codg: string
  medins_list_codg: string
  list_type: 'drug' | 'herb' | 'service' | 'consumable'
  med_chrgitm_type: string
  cnt: number
  pric: number
  amount: number
  bilg_dept_codg: string
  bilg_dr_codg: string
  prd_days?: number
  hours?: number
  /** 收费批次号 the line was uploaded in (a pass-through field of contract lines; national 2204/2301): what a reversal by batch names. */
  chrg_bchno?: string
  reversed: boolean
}

export interface SettlementState {
  setl_id: string
  mdtrt_id: string
  event_id: string
  setl_time: number
  med_type: string
  medfee_sumamt: number
  hifp_pay: number
  fund_pay_sumamt: number
  /** 个人账户支付: insurance money too (职工医保); a pharmacy purchase is often paid from it alone. */
  acct_pay: number
  inscp_scp_amt: number
  pay_grp?: { type: 'DRG' | 'DIP'; code: string; weight: number }
  reversed: boolean
}

export interface VisitState {
  mdtrt_id: string
  psn_no: string
  fixmedins_code: string
  /** Known once visit.opened was seen; a visit known only from lines has none. */
  opened: boolean
  med_type: string
  insutype: string
  begntime: number
  endtime?: number
  dscg_way?: string
  dscg_maindiag_code?: string
  atddr_no: string
  adm_dept_codg: string
  diagnoses: Diagnosis[]
  /** Read-only: a visit without operations holds one shared empty list (src/state/apply.ts); a change assigns a new list. */
  operations: readonly { oprn_oprt_code: string; oprn_oprt_date: string }[]
  lines: Map<string, FeeLineState>
  settlements: Map<string, SettlementState>
  /** event_ids of visit.opened / visit.closed, for alert refs. */
  open_event_id?: string
  close_event_id?: string
  /** Withdrawn by visit.cancelled 'visit': held in PersonState.cancelled, out of `visits`, so no detector counts it. */
  cancelled?: boolean
}

export interface PersonState {
  psn_no: string
  gend?: string
  brdy?: string
  visits: Map<string, VisitState>
  /**
   * Visits withdrawn by visit.cancelled 'visit' (national 2202/2404): their
   * lines and settlements no longer count, so they are not in `visits`, which
   * is what detectors read. Kept so that a later event of the visit attaches
   * to it (and stays withdrawn) instead of making a new visit of it.
   */
  cancelled: Map<string, VisitState>
  /** Who owns it, e.g. "fundwatch.claims.v1/3"; dropped when that partition is revoked. */
  owner: string
  /** Event time (ms) of the newest event applied; the retention window counts back from it. */
  last_event_time: number
  /**
   * The latest revision of each alert raised on this person's facts by the
   * streaming detectors (withdrawn ones too): what a later reversal or
   * discharge re-evaluates, and what says whether a finding is new, changed
   * or already raised. Loaded with the history (src/state/cache.ts).
   */
  alerts: Map<string, Alert>
}
