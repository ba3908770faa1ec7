import { CN_OFFSET_MS } from '../util/time.ts'
import type { CatalogItem, DiagnosisRow, Doctor, Institution, PayGroupRow, Person } from '../../schemas/index.ts'

export interface KbData {
  catalog: CatalogItem[]
  institutions: Institution[]
  doctors: Doctor[]
  persons: Person[]
  groups: PayGroupRow[]
  diagnoses: DiagnosisRow[]
}

const TITLE_RANK = { resident: 1, attending: 2, associate_chief: 3, chief: 4 } as const

/**
 * The knowledge base (知识库) as detectors read it: indexed, immutable lookups.
 * A reload builds a new instance and swaps it in, so a batch always sees one
 * consistent version.
 */
export class KnowledgeBase {
  readonly catalog: ReadonlyMap<string, CatalogItem>
  readonly institutions: ReadonlyMap<string, Institution>
  readonly doctors: ReadonlyMap<string, Doctor>
  readonly persons: ReadonlyMap<string, Person>
  readonly groups: ReadonlyMap<string, PayGroupRow>
  readonly diagnoses: ReadonlyMap<string, DiagnosisRow>
  /** Component code → bundle codes that include it. */
  readonly includedBy: ReadonlyMap<string, string[]>
  readonly version: string

  constructor(readonly data: KbData, version = 'unversioned') {
    this.catalog = new Map(data.catalog.map((r) => [r.med_list_codg, r]))
    this.institutions = new Map(data.institutions.map((r) => [r.fixmedins_code, r]))
    this.doctors = new Map(data.doctors.map((r) => [r.dr_code, r]))
    this.persons = new Map(data.persons.map((r) => [r.psn_no, r]))
    this.groups = new Map(data.groups.map((r) => [`${r.type}:${r.code}`, r]))
    this.diagnoses = new Map(data.diagnoses.map((r) => [r.diag_code, r]))
    const inc = new Map<string, string[]>()
    for (const item of data.catalog) for (const c of item.includes) inc.set(c, [...(inc.get(c) ?? []), item.med_list_codg])
    this.includedBy = inc
    this.version = version
  }

  static empty(): KnowledgeBase {
    return new KnowledgeBase({ catalog: [], institutions: [], doctors: [], persons: [], groups: [], diagnoses: [] }, 'empty')
  }

  /** A diagnosis row by the longest code prefix the knowledge base has (J96.001 → J96.0 → J96). */
  diagnosis(code: string): DiagnosisRow | undefined {
    for (let n = code.length; n >= 3; n--) {
      const row = this.diagnoses.get(code.slice(0, n))
      if (row) return row
    }
    return undefined
  }

  /** Price cap for an institution level (ungraded = level 1), in yuan. */
  priceCap(item: CatalogItem, level: number): number | undefined {
    const cap = level >= 3 ? item.price_cap_lv3 : level === 2 ? item.price_cap_lv2 : item.price_cap_lv1
    return cap === undefined ? undefined : Number(cap)
  }

  static titleRank(title: keyof typeof TITLE_RANK): number {
    return TITLE_RANK[title]
  }
}

/** Age in whole years at an instant, counted on China calendar days. */
export function ageOn(brdy: string, at: number): number {
  const d = new Date(at + CN_OFFSET_MS)
  const [y, m, day] = brdy.split('-').map(Number) as [number, number, number]
  let age = d.getUTCFullYear() - y
  const mm = d.getUTCMonth() + 1
  if (mm < m || (mm === m && d.getUTCDate() < day)) age--
  return age
}
