import type { AnyEvent } from '../../schemas/index.ts'
import type { App } from '../app.ts'
import type { Principal } from '../auth/principal.ts'
import { FundwatchError } from '../errors.ts'
import { checkEvent, visitRefusal, type Refusal } from '../pipeline/admit.ts'
import { DEFAULT_DECODE } from '../pipeline/decode.ts'
import { lookupKnown, type VisitOwner } from '../store/lookups.ts'

/**
 * The pipeline's admission rules for a pre-check draft (docs/admission.md), so
 * a draft is judged as its events will be when they stream in: the sender,
 * values that cannot be true, and ownership. The sender of a draft is the
 * caller's token: a `precheck` token (a hospital's HIS) speaks for the
 * institutions it names and no other, whatever its region scope; a staff
 * token trying a claim speaks for the draft's source within its scope
 * (checked by the caller). A draft may only touch a visit its sender owns —
 * the first institution, and person, to establish it, in the store or earlier
 * in the draft — so no finding is computed on, or filed against, another
 * institution's visit. Nothing of the draft is remembered.
 *
 * The checks that need no store (the sender, values that cannot be true) run
 * at the call and throw there; what it returns is the ownership check, which
 * reads the store — so a caller may read the person's history meanwhile, and
 * no history is read for a draft refused before it.
 */
export function admitDraft(app: App, caller: Principal, events: readonly { ev: AnyEvent }[], now: number): Promise<void> {
  const kb = app.kb()
  const limits = { ...DEFAULT_DECODE, now: () => now }
  events.forEach(({ ev }, i) => {
    const inst = ev.source.fixmedins_code
    if (caller.role === 'precheck' && !caller.fixmedins_codes.includes(inst)) {
      throw new FundwatchError('FORBIDDEN', `events[${i}]: foreign_institution — this token speaks for ${caller.fixmedins_codes.join(', ') || 'no institution'}, not for ${inst}`)
    }
    const r = checkEvent(ev, {}, kb, limits)
    if (r) throw refused(i, r)
  })
  return ownership(app, events)
}

/** A draft touches only visits its sender owns, in the store or earlier in the draft. */
async function ownership(app: App, events: readonly { ev: AnyEvent }[]): Promise<void> {
  const mdtrtIds = events.flatMap(({ ev }) => (ev.event_type === 'inventory.movement' ? [] : [ev.payload.mdtrt_id]))
  const known = await lookupKnown(app.store, { mdtrtIds })
  const draft = new Map<string, VisitOwner>()
  events.forEach(({ ev }, i) => {
    if (ev.event_type === 'inventory.movement') return
    const m = ev.payload.mdtrt_id
    const owner = known.visits.get(m) ?? draft.get(m)
    const r = visitRefusal(ev, owner)
    if (r) throw refused(i, r)
    if (!owner && ev.event_type !== 'fee.reversed') draft.set(m, { psn_no: ev.payload.psn_no ?? '', fixmedins_code: ev.source.fixmedins_code })
  })
}

function refused(i: number, r: Refusal): FundwatchError {
  // Another institution's visit: refused without saying whose it is.
  if (r.reason === 'foreign_visit') return new FundwatchError('FORBIDDEN', `events[${i}]: foreign_visit — the visit belongs to another institution`)
  if (r.reason === 'foreign_institution') return new FundwatchError('FORBIDDEN', `events[${i}]: ${r.reason} (${r.detail})`)
  if (r.reason === 'visit_person_mismatch') return new FundwatchError('BAD_REQUEST', `events[${i}]: ${r.reason} — the visit belongs to another person`)
  return new FundwatchError('BAD_REQUEST', `events[${i}]: ${r.reason} (${r.detail})`)
}
