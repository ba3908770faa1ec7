import { z } from 'zod'

/**
 * Money: a decimal string, never a float (CONTRACT.md). The national interface's
 * figures are N(16,2) for amounts, N(16,6) for unit prices and N(16,4) for
 * quantities: at most 16 digits in all. src/util/money.ts does the arithmetic.
 */
export const Money = z
  .string()
  .regex(/^\d{1,14}(\.\d{1,2})?$/, 'money: a non-negative decimal string, at most 14 digits before the point and 2 after')
  .describe('Money in yuan as a decimal string, e.g. "123.40" (N(16,2))')

/** A unit price (pric): up to 6 decimals, as the national interface's N(16,6). */
export const Price = z
  .string()
  .regex(/^\d{1,10}(\.\d{1,6})?$/, 'price: a non-negative decimal string, at most 10 digits before the point and 6 after')
  .describe('Unit price in yuan as a decimal string, e.g. "0.128333" (N(16,6))')

/**
 * A sum of money the system computes (an alert's amount at risk, a total): two
 * decimals, as many digits as a ClickHouse Decimal(38,2) holds, so no sum of
 * valid amounts can fall outside it.
 */
export const MoneySum = z
  .string()
  .regex(/^\d{1,36}\.\d{2}$/, 'a money sum: a non-negative decimal string with exactly 2 decimals')
  .describe('Money in yuan with two decimals, e.g. "1234.50" (Decimal(38,2))')

/** Quantities (cnt, hours) are decimal strings too: N(16,4). */
export const Quantity = z
  .string()
  .regex(/^\d{1,12}(\.\d{1,4})?$/, 'quantity: a non-negative decimal string, at most 12 digits before the point and 4 after')
  .describe('A quantity as a decimal string, e.g. "0.5" (N(16,4))')

/** RFC 3339 with an offset (Z counts as one): 2026-03-02T09:15:00+08:00. */
export const DateTime = z.iso.datetime({ offset: true }).describe('RFC 3339 date-time with offset')
export const DateOnly = z.iso.date().describe('Date as YYYY-MM-DD')

/** 定点医药机构编码: H (hospital/clinic) or P (pharmacy) + 6-digit admdvs + 5 digits. */
export const FixmedinsCode = z
  .string()
  .regex(/^[HP]\d{11}$/, 'fixmedins_code: H or P followed by 11 digits')
  .describe('National code of a designated institution (定点医药机构编码)')

export const PsnNo = z.string().regex(/^[0-9A-Za-z]{6,40}$/, 'psn_no: 6–40 letters or digits').describe('Insured person number (人员编号)')
export const MdtrtId = z.string().regex(/^[0-9A-Za-z_-]{1,40}$/, 'mdtrt_id: 1–40 letters, digits, _ or -').describe('Visit id (就诊ID)')
export const SetlId = z.string().regex(/^[0-9A-Za-z_-]{1,40}$/, 'setl_id: 1–40 letters, digits, _ or -').describe('Settlement id (结算ID)')
export const FeedetlSn = z.string().regex(/^[0-9A-Za-z_-]{1,40}$/, 'feedetl_sn: 1–40 letters, digits, _ or -').describe('Fee line id (费用明细流水号)')
export const ListCode = z.string().regex(/^[0-9A-Za-z._-]{1,50}$/, 'med_list_codg: 1–50 letters, digits, . _ -').describe('National 医保 list code of a drug, service or consumable')
export const DeptCode = z.string().regex(/^[0-9A-Za-z]{1,20}$/, 'department code: 1–20 letters or digits')
export const DoctorCode = z.string().regex(/^[0-9A-Za-z]{1,30}$/, 'doctor code: 1–30 letters or digits').describe('National doctor code (医保医师代码)')
export const Admdvs = z.string().regex(/^\d{6}$/, 'admdvs: 6-digit administrative division code')
/** ICD-10 医保版, e.g. J18.900, I10.x00x002. */
export const DiagCode = z.string().regex(/^[A-Z]\d{2}(\.[0-9A-Za-z]{1,10})?$/, 'diag_code: ICD-10 医保版 code').describe('Diagnosis code, ICD-10 医保版')
/** ICD-9-CM-3 医保版, e.g. 36.0600x001. */
export const OprnCode = z.string().regex(/^\d{2}(\.[0-9A-Za-z]{1,10})?$/, 'oprn_oprt_code: ICD-9-CM-3 医保版 code').describe('Operation code, ICD-9-CM-3 医保版')

/** 医疗类别 (national code set, the values fundwatch understands). */
export const MED_TYPES = ['11', '12', '13', '14', '15', '16', '19', '21', '22', '23', '24', '25', '26', '28', '41', '51', '52', '71', '72', '9901', '9902'] as const
export const MedType = z.enum(MED_TYPES).describe('医疗类别: 11 普通门诊, 13 急诊, 14 门诊慢特病, 21 普通住院, 41 定点药店购药, 51/52 生育 …')
/** 险种类型. */
export const INSUTYPES = ['310', '320', '330', '340', '350', '390', '391', '392', '510'] as const
export const Insutype = z.enum(INSUTYPES).describe('险种类型: 310 职工基本医疗保险, 390 城乡居民基本医疗保险, 510 生育保险 …')
export const Gend = z.enum(['0', '1', '2', '9']).describe('性别: 1 男, 2 女, 0 未知, 9 未说明')
export const ListType = z.enum(['drug', 'herb', 'service', 'consumable'])
/** 医疗收费项目类别 (national): 01 床位费 … 14 其他费. */
export const MedChrgitmType = z
  .string()
  .regex(/^(0[1-9]|1[0-4])$/, 'med_chrgitm_type: 01–14')
  .describe('医疗收费项目类别: 01 床位费 02 诊察费 03 检查费 04 化验费 05 治疗费 06 手术费 07 护理费 08 卫生材料费 09 西药费 10 中药饮片费 11 中成药费 12 一般诊疗费 13 挂号费 14 其他费')

/** 18-digit 居民身份证号 with the ISO 7064 MOD 11-2 check digit. */
export function isValidCertno(s: string): boolean {
  if (!/^\d{17}[\dX]$/.test(s)) return false
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  let sum = 0
  for (let i = 0; i < 17; i++) sum += (s.charCodeAt(i) - 48) * w[i]!
  return '10X98765432'[sum % 11] === s[17]
}
export const Certno = z
  .string()
  .refine(isValidCertno, { message: 'certno: not a valid 18-digit ID number', params: { reason: 'bad_certno' } })
  .describe('身份证号 (sensitive: masked in logs and for non-inspectors)')
