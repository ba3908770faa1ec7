/**
 * The provincial variants of the national interface that ingestion accepts
 * (../shared/national/README.md §9; docs/national.md "Variants"). Data only:
 * the adapter reads it, docs/national.md renders it.
 */

/**
 * Fields one province names differently: per `infno.node`, groups of names for
 * the same field, the first being the one the mapping reads. A group counts as
 * one field for requiredness (required when HN requires one of its names and
 * JX one of its names) and is present when any of its names is.
 */
export const ALIASES: Readonly<Record<string, readonly (readonly string[])[]>> = {
  // 2401 certificate type: Jiangxi/national psn_cert_type, Hunan cert_type.
  // 2401 hospital-side number: ipt_no in the printed specs, Guangzhou sends ipt_otp_no.
  '2401.mdtrtinfo': [['psn_cert_type', 'cert_type'], ['ipt_no', 'ipt_otp_no']],
  // 3503 manufacturer: Hunan prdr_name, Jiangxi (and the Jilin code) prodentp_name; Guangzhou sends both.
  '3503.purcinfo': [['prdr_name', 'prodentp_name']],
}

/** Output fields spelt differently by the platform: the settlement outputs' psn_cash_pay appears as pdn_cash_pay (HN and JX 2208, Nanjing, Jilin). */
export const OUTPUT_ALIASES: Readonly<Record<string, readonly string[]>> = {
  psn_cash_pay: ['psn_cash_pay', 'pdn_cash_pay'],
}

/**
 * 医疗类别 codes a province uses in place of the national ones: Hunan's
 * inpatient sub-codes 2101 普通住院, 2102 单病种住院, 2106 生育平产(居民) and
 * 2107 生育剖宫产(居民) are inpatient stays (21) to fundwatch.
 */
export const MED_TYPE_CODES: Readonly<Record<string, string>> = { '2101': '21', '2102': '21', '2106': '21', '2107': '21' }

/** A 医疗类别 as the contract knows it: a provincial code normalised, any other as sent. */
export function contractMedType(code: string): string {
  return MED_TYPE_CODES[code] ?? code
}

/**
 * Identifiers printed as numeric (N) that HIS send as text: 费用明细流水号
 * feedetl_sn is N in both copies, and Hunan V1.2 narrowed it to digits (not 0,
 * at most 15), but HIS built before that (and other provinces') number lines
 * with letters too. An identifier is compared, never added up: any value the
 * contract takes as a line id (1–40 letters, digits, _ or -) is taken.
 */
export const TEXT_IDS: readonly string[] = ['feedetl_sn', 'init_feedetl_sn']

/** psn_cert_type / cert_type values meaning 居民身份证: '01' (HN, national), '1' (JX prints the table without leading zeros), '' (not given). */
export const RESIDENT_ID_CERT_TYPES: readonly string[] = ['01', '1', '']

/** 就诊凭证类型 02 = 居民身份证: the 就诊凭证编号 is then the resident ID number. */
export const MDTRT_CERT_RESIDENT_ID = '02'

/** The extension field's names: Jiangxi (and the national layout) expContent, Nanjing and Jilin exp_content. */
export const EXP_CONTENT_NAMES: readonly string[] = ['expContent', 'exp_content']

/**
 * Envelope fields outside the printed §1.1 table that some provinces add; taken
 * and kept in the raw record. `fixmedins_soft_fcty` (Nanjing: the HIS vendor)
 * becomes `source.system`.
 */
export const ENVELOPE_EXTRAS: readonly { field: string; where: string; use: string }[] = [
  { field: 'fixmedins_soft_fcty', where: 'Nanjing', use: 'source.system (the HIS software vendor)' },
  { field: 'recer_admdvs', where: 'Guangzhou', use: 'kept in the raw record' },
  { field: 'enctype', where: 'Nanjing (responses)', use: 'kept in the raw record' },
  { field: '_api_name, _api_version, _api_timestamp, _api_access_key, _api_signature', where: 'Hunan gateway headers, when a log puts them in the envelope', use: 'kept in the raw record' },
]
