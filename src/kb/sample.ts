import type { CatalogItem, DiagnosisRow, Doctor, Institution, PayGroupRow, Person } from '../../schemas/index.ts'
import { Rng, hashString } from '../generator/random.ts'
import type { KbData } from './knowledge-base.ts'

/**
 * A sample knowledge base (知识库) for the demo, the generator and the tests:
 * a catalog with every kind of restriction DOMAIN.md's patterns rely on,
 * institutions in the seed regions, their doctors, DRG groups and diagnoses.
 * Everything is made up; codes follow the national formats so they look and
 * validate like the real ones (医保编码), but name no real product or person.
 *
 * The catalog is the same for every seed (the generator refers to items by a
 * stable key, see sampleCode); the seed varies institutions' details, doctors
 * and the registered persons.
 */

// ------------------------------------------------------------------ regions

export interface Region {
  /** City-level admdvs (统筹区). */
  admdvs: string
  name: string
  lat: number
  lon: number
  /** County-level divisions institutions sit in. */
  districts: { admdvs: string; name: string }[]
  /** Share of the generated population living here. */
  share: number
  /** Institutions by kind and level: [lv3, lv2, lv1 clinics, ungraded clinics, pharmacies]. */
  mix: [number, number, number, number, number]
}

export const REGIONS: readonly Region[] = [
  {
    admdvs: '370700', name: '潍坊市', lat: 36.707, lon: 119.162, share: 0.34, mix: [2, 4, 5, 1, 5],
    districts: [
      { admdvs: '370702', name: '潍城区' }, { admdvs: '370703', name: '寒亭区' }, { admdvs: '370705', name: '奎文区' },
      { admdvs: '370781', name: '青州市' }, { admdvs: '370782', name: '诸城市' }, { admdvs: '370783', name: '寿光市' },
    ],
  },
  {
    admdvs: '371000', name: '威海市', lat: 37.513, lon: 122.121, share: 0.16, mix: [1, 3, 4, 1, 3],
    districts: [
      { admdvs: '371002', name: '环翠区' }, { admdvs: '371003', name: '文登区' }, { admdvs: '371082', name: '荣成市' }, { admdvs: '371083', name: '乳山市' },
    ],
  },
  {
    admdvs: '140603', name: '朔州市平鲁区', lat: 39.512, lon: 112.288, share: 0.07, mix: [0, 2, 3, 1, 2],
    districts: [{ admdvs: '140603', name: '平鲁区' }],
  },
  {
    admdvs: '530100', name: '昆明市', lat: 25.040, lon: 102.712, share: 0.33, mix: [2, 4, 5, 1, 5],
    districts: [
      { admdvs: '530102', name: '五华区' }, { admdvs: '530103', name: '盘龙区' }, { admdvs: '530111', name: '官渡区' },
      { admdvs: '530112', name: '西山区' }, { admdvs: '530114', name: '呈贡区' },
    ],
  },
  {
    admdvs: '419001', name: '济源市', lat: 35.067, lon: 112.602, share: 0.10, mix: [1, 2, 3, 1, 3],
    districts: [{ admdvs: '419001', name: '济源市' }],
  },
]

// ------------------------------------------------------------------ catalog

type Opts = Partial<Omit<CatalogItem, 'med_list_codg' | 'name' | 'list_type' | 'med_chrgitm_type' | 'chrgitm_lv' | 'unit'>>
interface Spec {
  key: string
  code: string
  name: string
  list_type: CatalogItem['list_type']
  med_chrgitm_type: string
  chrgitm_lv: CatalogItem['chrgitm_lv']
  unit: string
  caps: [number | undefined, number | undefined, number | undefined]
  opts: Opts
}

const specs: Spec[] = []
const usedCodes = new Set<string>()

function codeDigits(key: string, n: number): string {
  return new Rng(hashString(`catalog/${key}`)).digits(n)
}
function unique(make: (salt: number) => string): string {
  for (let salt = 0; ; salt++) {
    const c = make(salt)
    if (!usedCodes.has(c)) {
      usedCodes.add(c)
      return c
    }
  }
}

/** Caps for goods: one price at every level (药品零差率), none below the item's minimum level. */
function goodsCaps(price: number, opts: Opts): Spec['caps'] {
  const min = opts.min_hosp_lv ?? 1
  return [min <= 1 ? price : undefined, min <= 2 ? price : undefined, price]
}

/** Drugs carry one price everywhere (药品零差率): the cap is the same at every level that may use them. */
function drug(key: string, name: string, atc: string, price: number, unit: string, lv: Spec['chrgitm_lv'], opts: Opts = {}): void {
  // 西药 code: X + ATC level-4 (5 chars) + E + generic-name serial + A + dosage form + packaging serial (23 chars).
  const code = unique((s) => `X${atc}E${codeDigits(key + s, 3)}A${codeDigits(key + s + 'f', 3)}${codeDigits(key + s + 'p', 9)}`)
  specs.push({ key, code, name, list_type: 'drug', med_chrgitm_type: '09', chrgitm_lv: lv, unit, caps: goodsCaps(price, opts), opts })
}
function cpm(key: string, name: string, cls: string, price: number, unit: string, lv: Spec['chrgitm_lv'], opts: Opts = {}): void {
  // 中成药 code: Z + class (5 chars) + X + serial (4) + packaging (9), 20 chars.
  const code = unique((s) => `Z${cls}X${codeDigits(key + s, 4)}${codeDigits(key + s + 'p', 9)}`)
  specs.push({ key, code, name, list_type: 'drug', med_chrgitm_type: '11', chrgitm_lv: lv, unit, caps: goodsCaps(price, opts), opts })
}
function herb(key: string, name: string, pricePerGram: number, lv: Spec['chrgitm_lv'] = '甲', opts: Opts = {}): void {
  const code = unique((s) => `T${codeDigits(key + s, 9)}`)
  specs.push({ key, code, name, list_type: 'herb', med_chrgitm_type: '10', chrgitm_lv: lv, unit: '克', caps: [pricePerGram, pricePerGram, pricePerGram], opts: { max_prd_days: 14, ...opts } })
}
/**
 * Services are priced by institution level (lv3 ≥ lv2 ≥ lv1). A level below
 * the item's min_hosp_lv gets no cap: the item is not priced, so not billable, there.
 */
function svc(key: string, name: string, chrgitm: string, prefix: string, lv3: number, lv: Spec['chrgitm_lv'], opts: Opts = {}, unit = '次'): void {
  // 医疗服务项目 code: 15 digits, category prefix then serial (e.g. 001102000010000).
  const code = unique((s) => (prefix + codeDigits(key + s, 15)).slice(0, 11) + '0000')
  const min = opts.min_hosp_lv ?? 1
  const round = (x: number): number => Math.max(0.5, Math.round(x * 2) / 2)
  const lv2 = min <= 2 ? round(lv3 * 0.9) : undefined
  const lv1 = min <= 1 ? round(lv3 * 0.8) : undefined
  specs.push({ key, code, name, list_type: 'service', med_chrgitm_type: chrgitm, chrgitm_lv: lv, unit, caps: [lv1, lv2, lv3], opts })
}
/** Like svc but only graded clinics and ungraded ones price it (基层一般诊疗费). */
function primaryOnly(key: string, name: string, chrgitm: string, prefix: string, price: number): void {
  const code = unique((s) => (prefix + codeDigits(key + s, 15)).slice(0, 11) + '0000')
  specs.push({ key, code, name, list_type: 'service', med_chrgitm_type: chrgitm, chrgitm_lv: '甲', unit: '次', caps: [price, undefined, undefined], opts: {} })
}
function cons(key: string, name: string, price: number, lv: Spec['chrgitm_lv'], opts: Opts = {}, unit = '个'): void {
  // 医用耗材 code: C + 19 digits.
  const code = unique((s) => `C${codeDigits(key + s, 19)}`)
  specs.push({ key, code, name, list_type: 'consumable', med_chrgitm_type: '08', chrgitm_lv: lv, unit, caps: goodsCaps(price, opts), opts })
}

// Western drugs (西药, 09)
drug('metformin', '盐酸二甲双胍片', 'A10BA', 12.5, '盒', '甲', { max_prd_days: 30 })
drug('gliclazide', '格列齐特缓释片', 'A10BB', 28.6, '盒', '甲', { max_prd_days: 30 })
drug('acarbose', '阿卡波糖片', 'A10BF', 32.8, '盒', '乙', { max_prd_days: 30 })
drug('glargine', '甘精胰岛素注射液', 'A10AE', 158, '支', '乙', { chronic_only: true, indications: ['E10', 'E11'], max_prd_days: 30 })
drug('aspart', '门冬胰岛素注射液', 'A10AB', 68, '支', '乙', { indications: ['E10', 'E11'], max_prd_days: 30 })
drug('amlodipine', '苯磺酸氨氯地平片', 'C08CA', 18.2, '盒', '甲', { max_prd_days: 30 })
drug('nifedipine', '硝苯地平控释片', 'C08CA', 32.5, '盒', '乙', { max_prd_days: 30 })
drug('valsartan', '缬沙坦胶囊', 'C09CA', 26.4, '盒', '乙', { max_prd_days: 30 })
drug('losartan', '氯沙坦钾片', 'C09CA', 22.1, '盒', '乙', { max_prd_days: 30 })
drug('sacubitril', '沙库巴曲缬沙坦钠片', 'C09DX', 156.8, '盒', '乙', { chronic_only: true, indications: ['I50'], max_prd_days: 30 })
drug('metoprolol', '酒石酸美托洛尔片', 'C07AB', 8.9, '盒', '甲', { max_prd_days: 30 })
drug('atorvastatin', '阿托伐他汀钙片', 'C10AA', 25.6, '盒', '乙', { max_prd_days: 30 })
drug('rosuvastatin', '瑞舒伐他汀钙片', 'C10AA', 21.3, '盒', '乙', { max_prd_days: 30 })
drug('aspirin', '阿司匹林肠溶片', 'B01AC', 15.8, '盒', '甲', { max_prd_days: 30 })
drug('clopidogrel', '硫酸氢氯吡格雷片', 'B01AC', 45.2, '盒', '乙', { indications: ['I20', 'I21', 'I24', 'I25', 'I63', 'Z95'], max_prd_days: 30 })
drug('enoxaparin', '依诺肝素钠注射液', 'B01AB', 38.5, '支', '乙', { min_hosp_lv: 2, max_cnt_per_day: 2 })
drug('furosemide', '呋塞米注射液', 'C03CA', 1.2, '支', '甲', { max_cnt_per_day: 10 })
drug('digoxin', '地高辛片', 'C01AA', 9.5, '盒', '甲', { max_prd_days: 30 })
drug('nitroglycerin', '硝酸甘油片', 'C01DA', 12, '盒', '甲', { max_prd_days: 30 })
drug('omeprazole', '奥美拉唑肠溶胶囊', 'A02BC', 16.8, '盒', '甲', { max_prd_days: 14 })
drug('pantoprazole_inj', '注射用泮托拉唑钠', 'A02BC', 28, '支', '乙', { indications: ['K25', 'K26', 'K27', 'K92', 'K21'], max_cnt_per_day: 2 })
drug('amoxicillin', '阿莫西林胶囊', 'J01CA', 9.8, '盒', '甲', { max_prd_days: 7 })
drug('cefuroxime', '头孢呋辛酯片', 'J01DC', 24.6, '盒', '乙', { max_prd_days: 7 })
drug('ceftriaxone', '注射用头孢曲松钠', 'J01DD', 12.8, '支', '甲', { max_cnt_per_day: 4 })
drug('levofloxacin', '左氧氟沙星片', 'J01MA', 18.9, '盒', '乙', { age_min: 18, max_prd_days: 7 })
drug('levofloxacin_inj', '左氧氟沙星氯化钠注射液', 'J01MA', 15.6, '瓶', '乙', { age_min: 18, max_cnt_per_day: 2 })
drug('azithromycin', '阿奇霉素片', 'J01FA', 19.5, '盒', '甲', { max_prd_days: 5 })
drug('ibuprofen', '布洛芬缓释胶囊', 'M01AE', 12.6, '盒', '甲', { max_prd_days: 7 })
drug('ibuprofen_susp', '布洛芬混悬液(儿童)', 'M01AE', 16.5, '瓶', '乙', { age_max: 17, max_prd_days: 5 })
drug('paracetamol', '对乙酰氨基酚片', 'N02BE', 5.8, '盒', '甲', { max_prd_days: 5 })
drug('kids_cold', '小儿氨酚黄那敏颗粒', 'N02BE', 11.2, '盒', '乙', { age_max: 17, max_prd_days: 5 })
drug('cefaclor_susp', '头孢克洛干混悬剂', 'J01DC', 22.4, '盒', '乙', { age_max: 17, max_prd_days: 7 })
drug('montelukast', '孟鲁司特钠咀嚼片', 'R03DC', 48.6, '盒', '乙', { age_max: 17, max_prd_days: 30 })
drug('ambroxol', '盐酸氨溴索口服溶液', 'R05CB', 14.5, '瓶', '乙', { max_prd_days: 7 })
drug('ambroxol_inj', '盐酸氨溴索注射液', 'R05CB', 6.8, '支', '乙', { max_cnt_per_day: 3 })
drug('salbutamol', '硫酸沙丁胺醇吸入气雾剂', 'R03AC', 26, '支', '甲', { max_prd_days: 30 })
drug('tiotropium', '噻托溴铵粉吸入剂', 'R03BB', 168, '盒', '乙', { chronic_only: true, indications: ['J44'], max_prd_days: 30 })
drug('budesonide', '吸入用布地奈德混悬液', 'R03BA', 38, '盒', '乙', { max_prd_days: 7 })
drug('tamsulosin', '盐酸坦索罗辛缓释胶囊', 'G04CA', 42.8, '盒', '乙', { gend: '1', max_prd_days: 30 })
drug('finasteride', '非那雄胺片', 'G04CB', 56, '盒', '乙', { gend: '1', max_prd_days: 30 })
drug('oxytocin', '缩宫素注射液', 'H01BB', 2.6, '支', '甲', { gend: '2', max_cnt_per_day: 4 })
drug('progesterone', '黄体酮注射液', 'G03DA', 4.5, '支', '甲', { gend: '2', max_cnt_per_day: 2 })
drug('estradiol', '戊酸雌二醇片', 'G03CA', 38.5, '盒', '乙', { gend: '2', max_prd_days: 30 })
drug('epo', '重组人促红素注射液', 'B03XA', 85, '支', '乙', { chronic_only: true, indications: ['N18', 'D63'], max_cnt_per_day: 1 })
drug('calcitriol', '骨化三醇软胶囊', 'A11CC', 36.8, '盒', '乙', { max_prd_days: 30 })
drug('entecavir', '恩替卡韦分散片', 'J05AF', 18.6, '盒', '乙', { chronic_only: true, indications: ['B18'], max_prd_days: 30 })
drug('oseltamivir', '磷酸奥司他韦胶囊', 'J05AH', 36, '盒', '乙', { indications: ['J09', 'J10', 'J11'], max_prd_days: 5 })
drug('albumin', '人血白蛋白', 'B05AA', 380, '瓶', '乙', { min_hosp_lv: 2, indications: ['K74', 'R18', 'E88'], max_cnt_per_day: 2 })
drug('imatinib', '甲磺酸伊马替尼片', 'L01EA', 1180, '盒', '乙', { min_hosp_lv: 3, indications: ['C92'], max_prd_days: 30 })
drug('trastuzumab', '注射用曲妥珠单抗', 'L01FD', 1960, '支', '乙', { min_hosp_lv: 3, indications: ['C50'], max_cnt_per_day: 2 })
drug('cisplatin', '注射用顺铂', 'L01XA', 28, '支', '甲', { indications: ['C'], max_cnt_per_day: 6 })
drug('paclitaxel', '紫杉醇注射液', 'L01CD', 260, '支', '乙', { indications: ['C'], max_cnt_per_day: 4 })
drug('ondansetron', '盐酸昂丹司琼注射液', 'A04AA', 12.5, '支', '乙', { max_cnt_per_day: 3 })
drug('donepezil', '盐酸多奈哌齐片', 'N06DA', 68, '盒', '乙', { age_min: 50, indications: ['F00', 'G30'], max_prd_days: 30 })
drug('alendronate', '阿仑膦酸钠片', 'M05BA', 45, '盒', '乙', { age_min: 50, max_prd_days: 30 })
drug('levothyroxine', '左甲状腺素钠片', 'H03AA', 22, '盒', '甲', { max_prd_days: 30 })
drug('calcium_d3', '碳酸钙D3片', 'A12AX', 24, '盒', '乙', { max_prd_days: 30 })
drug('mecobalamin', '甲钴胺片', 'B03BA', 28, '盒', '乙', { max_prd_days: 30 })
drug('loratadine', '氯雷他定片', 'R06AX', 18, '盒', '甲', { max_prd_days: 7 })
drug('diclofenac_gel', '双氯芬酸二乙胺乳胶剂', 'M02AA', 21, '支', '乙', { max_prd_days: 14 })
drug('ns_250', '0.9%氯化钠注射液(250ml)', 'B05BB', 3.2, '瓶', '甲', { max_cnt_per_day: 8 })
drug('gs_250', '5%葡萄糖注射液(250ml)', 'B05BA', 3.5, '瓶', '甲', { max_cnt_per_day: 8 })
drug('tat', '破伤风抗毒素', 'J06AA', 16, '支', '甲', { max_cnt_per_day: 1 })
drug('lidocaine', '盐酸利多卡因注射液', 'N01BB', 1.5, '支', '甲')
drug('propofol', '丙泊酚乳状注射液', 'N01AX', 58, '支', '乙', { min_hosp_lv: 2 })
drug('olanzapine', '奥氮平片', 'N05AH', 86, '盒', '乙', { chronic_only: true, indications: ['F20'], max_prd_days: 30 })
drug('tobradex', '妥布霉素地塞米松滴眼液', 'S01CA', 34, '支', '乙', { max_prd_days: 14 })
drug('vitamin_c', '维生素C片', 'A11GA', 3, '瓶', '丙', { max_prd_days: 30 })

// Chinese patent drugs (中成药, 11)
cpm('lianhua', '连花清瘟胶囊', 'A01AA', 22.8, '盒', '甲', { max_prd_days: 7 })
cpm('danshen_pills', '复方丹参滴丸', 'A06AA', 28.5, '盒', '甲', { max_prd_days: 30 })
cpm('liuwei', '六味地黄丸', 'A12BA', 18, '盒', '甲', { max_prd_days: 30 })
cpm('banlangen', '板蓝根颗粒', 'A01AB', 12, '盒', '甲', { max_prd_days: 7 })
cpm('huoxiang', '藿香正气水', 'A04AB', 9.6, '盒', '甲', { max_prd_days: 5 })
cpm('xuesaitong', '血塞通软胶囊', 'A06AB', 32, '盒', '乙', { indications: ['I63', 'I25', 'I69'], max_prd_days: 30 })
cpm('ginkgo', '银杏叶片', 'A06AC', 26, '盒', '乙', { max_prd_days: 30 })
cpm('xiaoyao', '逍遥丸', 'A07AA', 16.5, '盒', '甲', { max_prd_days: 30 })
cpm('kids_feire', '小儿肺热咳喘口服液', 'A15AA', 32, '盒', '乙', { age_max: 17, max_prd_days: 7 })
cpm('kids_ganmao', '小儿感冒颗粒', 'A15AB', 14, '盒', '甲', { age_max: 17, max_prd_days: 5 })
cpm('qianlie', '前列舒通胶囊', 'A10AA', 36, '盒', '乙', { gend: '1', max_prd_days: 30 })
cpm('yimucao', '益母草颗粒', 'A14AA', 16, '盒', '甲', { gend: '2', max_prd_days: 14 })
cpm('wuji', '乌鸡白凤丸', 'A14AB', 26, '盒', '乙', { gend: '2', max_prd_days: 30 })
cpm('tongxinluo', '通心络胶囊', 'A06AD', 42, '盒', '乙', { indications: ['I20', 'I25', 'I63'], max_prd_days: 30 })
cpm('danhong', '丹红注射液', 'A06BA', 18, '支', '乙', { min_hosp_lv: 2, indications: ['I63', 'I20', 'I25'], max_cnt_per_day: 4 })
cpm('xueshuantong', '注射用血栓通(冻干)', 'A06BB', 32, '支', '乙', { min_hosp_lv: 2, indications: ['I63', 'I69'], max_cnt_per_day: 4 })
cpm('shenmai', '参麦注射液', 'A05BA', 26, '支', '乙', { min_hosp_lv: 2, indications: ['I50', 'R57'], max_cnt_per_day: 4 })
cpm('angong', '安宫牛黄丸', 'A09AA', 480, '丸', '乙', { indications: ['I61', 'I63', 'R40'], max_cnt_per_day: 1 })
cpm('yunnan_baiyao', '云南白药胶囊', 'A11AA', 28, '盒', '甲', { max_prd_days: 14 })
cpm('ganmao_qingre', '感冒清热颗粒', 'A01AC', 14.5, '盒', '甲', { max_prd_days: 5 })
cpm('guizhi_fuling', '桂枝茯苓胶囊', 'A14AC', 32, '盒', '乙', { gend: '2', max_prd_days: 30 })

// Herbs (中药饮片, 10), priced per gram
herb('huangqi', '黄芪', 0.12)
herb('danggui', '当归', 0.28)
herb('dangshen', '党参', 0.35)
herb('baizhu', '白术', 0.18)
herb('fuling', '茯苓', 0.1)
herb('gancao', '甘草', 0.08)
herb('chuanxiong', '川芎', 0.15)
herb('baishao', '白芍', 0.12)
herb('shudi', '熟地黄', 0.1)
herb('gouqi', '枸杞子', 0.22)
herb('chenpi', '陈皮', 0.06)
herb('banxia', '法半夏', 0.45)
herb('chaihu', '柴胡', 0.32)
herb('huangqin', '黄芩', 0.12)
herb('danshen', '丹参', 0.1)
herb('jinyinhua', '金银花', 0.65)
herb('lianqiao', '连翘', 0.25)
herb('shanyao', '山药', 0.09)
herb('maidong', '麦冬', 0.3)
herb('suanzaoren', '酸枣仁', 0.85)
herb('sanqi', '三七粉', 2.8, '乙')
herb('xiyangshen', '西洋参', 3.2, '丙')
herb('chongcao', '冬虫夏草', 180, '丙')

// Services (医疗服务项目)
svc('reg', '普通挂号费', '13', '0011', 1, '甲')
svc('consult', '普通门诊诊查费', '02', '0011', 15, '甲', { max_cnt_per_day: 1 })
svc('consult_assoc', '副主任医师门诊诊查费', '02', '0011', 25, '甲', { required_title: 'associate_chief', max_cnt_per_day: 1 })
svc('consult_chief', '主任医师门诊诊查费', '02', '0011', 35, '甲', { required_title: 'chief', max_cnt_per_day: 1 })
svc('consult_er', '急诊诊查费', '02', '0011', 18, '甲', { max_cnt_per_day: 1 })
primaryOnly('gp_fee', '一般诊疗费', '12', '0011', 10)
svc('ward_round', '住院诊查费', '02', '0011', 20, '甲', { time_unit: 'day', max_cnt_per_day: 1 }, '日')
svc('tcm_diag', '中医辨证论治', '02', '0041', 20, '甲', { max_cnt_per_day: 1 })
svc('bed_3', '三人间床位费', '01', '0011', 40, '甲', { time_unit: 'day', max_cnt_per_day: 1 }, '日')
svc('bed_2', '双人间床位费', '01', '0011', 60, '甲', { time_unit: 'day', max_cnt_per_day: 1 }, '日')
svc('bed_icu', '重症监护病房床位费', '01', '0011', 180, '甲', { time_unit: 'day', max_cnt_per_day: 1, min_hosp_lv: 2 }, '日')
svc('nurse_1', '一级护理', '07', '0011', 28, '甲', { time_unit: 'day', max_cnt_per_day: 1, exclusive_group: 'nursing_level' }, '日')
svc('nurse_2', '二级护理', '07', '0011', 18, '甲', { time_unit: 'day', max_cnt_per_day: 1, exclusive_group: 'nursing_level' }, '日')
svc('nurse_3', '三级护理', '07', '0011', 10, '甲', { time_unit: 'day', max_cnt_per_day: 1, exclusive_group: 'nursing_level' }, '日')
svc('ecg_monitor', '心电监护', '05', '0011', 6, '甲', { time_unit: 'hour' }, '小时')
svc('oxygen', '吸氧', '05', '0011', 3, '甲', { time_unit: 'hour' }, '小时')
svc('iv_drip', '静脉输液(第一组)', '05', '0011', 12, '甲')
svc('iv_extra', '静脉输液(每增加一组)', '05', '0011', 3, '甲')
svc('im_inj', '肌肉注射', '05', '0011', 3, '甲')
svc('blood_draw', '静脉采血', '05', '0011', 4, '甲')
svc('nebulize', '雾化吸入', '05', '0011', 8, '甲')
svc('dressing_m', '中换药', '05', '0011', 25, '甲')
svc('dressing_l', '大换药', '05', '0011', 40, '甲')
svc('debride', '清创缝合(小)', '05', '0011', 120, '甲')
svc('catheterize', '导尿', '05', '0011', 20, '甲')
svc('acupuncture', '普通针刺', '05', '0041', 25, '甲', { max_cnt_per_day: 2 })
svc('tuina', '推拿治疗', '05', '0041', 40, '乙', { therapist_minutes: 20, max_cnt_per_day: 2 })
svc('pt_exercise', '运动疗法', '05', '0015', 60, '甲', { therapist_minutes: 40, max_cnt_per_day: 2 })
svc('ot', '作业疗法', '05', '0015', 40, '甲', { therapist_minutes: 30, max_cnt_per_day: 2 })
svc('mf_elec', '中频脉冲电治疗', '05', '0015', 20, '甲', { therapist_minutes: 20, max_cnt_per_day: 2 })
svc('kids_tuina', '小儿推拿', '05', '0041', 35, '乙', { age_max: 14, therapist_minutes: 20, max_cnt_per_day: 1 })
svc('hd', '血液透析', '05', '0031', 420, '甲', { dialysis: true, max_cnt_per_day: 1, min_hosp_lv: 2, indications: ['N18', 'N17', 'Z49'] })
svc('hdf', '血液透析滤过', '05', '0031', 560, '乙', { dialysis: true, max_cnt_per_day: 1, min_hosp_lv: 2, indications: ['N18', 'N17', 'Z49'] })
svc('chemo_iv', '静脉注射化疗', '05', '0031', 35, '甲', { min_hosp_lv: 2, indications: ['C'], max_cnt_per_day: 2 })
svc('cbc', '全血细胞计数(血常规)', '04', '0025', 20, '甲') // includes set below
svc('wbc', '白细胞计数', '04', '0025', 4, '甲')
svc('rbc', '红细胞计数', '04', '0025', 4, '甲')
svc('hgb', '血红蛋白测定', '04', '0025', 4, '甲')
svc('plt', '血小板计数', '04', '0025', 4, '甲')
svc('crp', 'C反应蛋白测定', '04', '0025', 25, '甲')
svc('urine', '尿常规', '04', '0025', 12, '甲')
svc('glu', '血糖测定', '04', '0025', 6, '甲')
svc('hba1c', '糖化血红蛋白测定', '04', '0025', 60, '甲')
svc('liver', '肝功能(组合)', '04', '0025', 70, '甲')
svc('alt', '丙氨酸氨基转移酶测定', '04', '0025', 7, '甲')
svc('ast', '天门冬氨酸氨基转移酶测定', '04', '0025', 7, '甲')
svc('renal', '肾功能(组合)', '04', '0025', 30, '甲')
svc('crea', '肌酐测定', '04', '0025', 8, '甲')
svc('urea', '尿素测定', '04', '0025', 8, '甲')
svc('lytes', '电解质测定', '04', '0025', 30, '甲')
svc('lipid', '血脂四项', '04', '0025', 45, '甲')
svc('coag', '凝血功能四项', '04', '0025', 60, '甲')
svc('bnp', '脑钠肽(BNP)测定', '04', '0025', 150, '乙', { min_hosp_lv: 2 })
svc('abg', '血气分析', '04', '0025', 60, '甲', { min_hosp_lv: 2 })
svc('myo', '心肌酶谱', '04', '0025', 80, '甲')
svc('blood_culture', '血培养', '04', '0025', 80, '甲')
svc('psa', '前列腺特异性抗原测定', '04', '0025', 70, '甲', { gend: '1' })
svc('hcg', '人绒毛膜促性腺激素测定', '04', '0025', 40, '甲', { gend: '2' })
svc('pap', '宫颈细胞学检查', '04', '0027', 80, '乙', { gend: '2' })
svc('hbvdna', '乙型肝炎病毒DNA定量', '04', '0025', 160, '乙', { min_hosp_lv: 2 })
svc('flu_ag', '甲/乙型流感病毒抗原检测', '04', '0025', 60, '乙')
svc('dr_chest', '胸部X线摄影(DR)', '03', '0021', 80, '甲')
svc('ct_head', '头颅CT平扫', '03', '0021', 260, '甲', { min_hosp_lv: 2 })
svc('ct_chest', '胸部CT平扫', '03', '0021', 280, '甲', { min_hosp_lv: 2 })
svc('mri_head', '头颅磁共振平扫', '03', '0021', 520, '乙', { min_hosp_lv: 2 })
svc('bus', 'B超常规检查(腹部)', '03', '0022', 60, '甲')
svc('cdus', '彩色多普勒超声检查', '03', '0022', 150, '甲')
svc('ecg', '常规心电图', '03', '0023', 25, '甲')
svc('holter', '动态心电图', '03', '0023', 200, '乙', { min_hosp_lv: 2 })
svc('gastroscopy', '电子胃镜检查', '03', '0024', 280, '甲', { min_hosp_lv: 2 })
svc('fetal_hr', '胎心监测', '03', '0023', 30, '甲', { gend: '2' })
svc('prenatal', '产前检查', '03', '0011', 40, '甲', { gend: '2', max_cnt_per_day: 1 })
svc('ob_us', '产科彩色多普勒超声', '03', '0022', 180, '甲', { gend: '2' })
svc('angio', '冠状动脉造影术', '03', '0032', 2800, '甲', { min_hosp_lv: 3 })
svc('ga', '全身麻醉', '06', '0033', 1200, '甲', { min_hosp_lv: 2 })
svc('spinal', '椎管内麻醉', '06', '0033', 800, '甲', { min_hosp_lv: 2 })
svc('lc_pkg', '腹腔镜胆囊切除术(含麻醉及换药)', '06', '0033', 4800, '甲', { min_hosp_lv: 2 })
svc('appendectomy', '阑尾切除术', '06', '0033', 1600, '甲', { min_hosp_lv: 2 })
svc('pci', '经皮冠状动脉支架置入术', '06', '0032', 4500, '甲', { min_hosp_lv: 3 })
svc('thr', '人工全髋关节置换术', '06', '0033', 6800, '甲', { min_hosp_lv: 2 })
svc('cataract', '白内障超声乳化摘除术+人工晶体植入术', '06', '0033', 2600, '甲', { min_hosp_lv: 2 })
svc('vaginal', '阴道分娩', '06', '0034', 1200, '甲', { gend: '2' })
svc('csection', '剖宫产术', '06', '0034', 2200, '甲', { gend: '2', min_hosp_lv: 2 })
svc('turp', '经尿道前列腺电切术', '06', '0033', 2600, '甲', { gend: '1', min_hosp_lv: 2 })
svc('decoction', '中药煎药费(代煎)', '14', '0041', 2, '乙', {}, '付')

// Consumables (医用耗材, 08)
cons('infusion_set', '一次性使用输液器', 2.5, '甲', {}, '套')
cons('syringe', '一次性使用无菌注射器', 0.8, '甲', {}, '支')
cons('cannula', '静脉留置针', 12, '乙', {}, '支')
cons('urinary_cath', '一次性使用导尿包', 25, '乙', {}, '包')
cons('suture', '可吸收缝合线', 85, '乙', {}, '根')
cons('dialyzer', '血液透析器', 120, '乙', { min_hosp_lv: 2 })
cons('dialysis_tubing', '血液透析管路', 45, '乙', { min_hosp_lv: 2 }, '套')
cons('stent', '冠状动脉药物洗脱支架', 780, '乙', { high_value: true, oprn_prefixes: ['36.06', '36.07'], min_hosp_lv: 3 }, '个')
cons('hip_prosthesis', '人工髋关节假体(全髋)', 7200, '乙', { high_value: true, oprn_prefixes: ['81.51'], min_hosp_lv: 2 }, '套')
cons('iol', '人工晶体', 1800, '乙', { high_value: true, oprn_prefixes: ['13.41', '13.7'], min_hosp_lv: 2 }, '片')
cons('pacemaker', '双腔心脏起搏器', 32000, '乙', { high_value: true, oprn_prefixes: ['37.8'], min_hosp_lv: 3 }, '台')
cons('stapler', '一次性使用腔镜切割吻合器', 2800, '乙', { high_value: true, oprn_prefixes: ['45', '46', '47', '51.2'], min_hosp_lv: 2 }, '把')
cons('bone_plate', '锁定接骨板', 3600, '乙', { high_value: true, oprn_prefixes: ['79.1', '79.3'], min_hosp_lv: 2 }, '块')

const byKey = new Map(specs.map((s) => [s.key, s]))
function codeOf(key: string): string {
  const s = byKey.get(key)
  if (!s) throw new Error(`sample catalog has no item "${key}"`)
  return s.code
}

// Bundles (分解收费): a panel or a package bills its components once.
const INCLUDES: Record<string, string[]> = {
  cbc: ['wbc', 'rbc', 'hgb', 'plt'],
  liver: ['alt', 'ast'],
  renal: ['crea', 'urea'],
  lc_pkg: ['ga', 'dressing_m'],
}

const money = (x: number | undefined): string | undefined => (x === undefined ? undefined : x.toFixed(2))

const CATALOG: CatalogItem[] = specs.map((s) => {
  const row: CatalogItem = {
    med_list_codg: s.code,
    name: s.name,
    list_type: s.list_type,
    med_chrgitm_type: s.med_chrgitm_type,
    chrgitm_lv: s.chrgitm_lv,
    unit: s.unit,
    indications: [],
    includes: (INCLUDES[s.key] ?? []).map(codeOf),
    high_value: false,
    oprn_prefixes: [],
    chronic_only: false,
    dialysis: false,
    ...s.opts,
  }
  if (s.caps[0] !== undefined) row.price_cap_lv1 = money(s.caps[0])
  if (s.caps[1] !== undefined) row.price_cap_lv2 = money(s.caps[1])
  if (s.caps[2] !== undefined) row.price_cap_lv3 = money(s.caps[2])
  return row
})

/** The national code of a sample catalog item by its stable key (e.g. "cbc" → 全血细胞计数). */
export function sampleCode(key: string): string {
  return codeOf(key)
}
/** Every key of the sample catalog. */
export const SAMPLE_ITEM_KEYS: readonly string[] = specs.map((s) => s.key)

// ------------------------------------------------------------------ diagnoses and groups

const dx = (diag_code: string, name: string, cc: DiagnosisRow['cc'] = 'none', chronic = false, evidence: string[] = []): DiagnosisRow =>
  ({ diag_code, name, cc, chronic, evidence_items: evidence.map(codeOf) })

const DIAGNOSES: DiagnosisRow[] = [
  dx('J06.900', '急性上呼吸道感染'),
  dx('J20.900', '急性支气管炎'),
  dx('J18.900', '肺炎'),
  dx('J11.100', '流行性感冒'),
  dx('J96.000', '急性呼吸衰竭', 'MCC', false, ['oxygen', 'abg']),
  dx('J44.100', '慢性阻塞性肺病伴有急性加重', 'CC', true, ['oxygen', 'abg', 'nebulize']),
  dx('J44.900', '慢性阻塞性肺病', 'CC', true, ['tiotropium', 'salbutamol', 'nebulize']),
  dx('J45.900', '哮喘', 'none', true),
  dx('I10.x00x002', '原发性高血压', 'none', true),
  dx('I20.000', '不稳定型心绞痛', 'CC', false, ['ecg', 'myo', 'ecg_monitor']),
  dx('I21.900', '急性心肌梗死', 'MCC', false, ['ecg_monitor', 'myo']),
  dx('I25.100', '动脉粥样硬化性心脏病', 'none', true),
  dx('I48.x00', '心房颤动', 'CC', false, ['ecg', 'holter', 'ecg_monitor']),
  dx('I50.900', '心力衰竭', 'MCC', true, ['bnp', 'furosemide', 'ecg_monitor']),
  dx('I63.900', '脑梗死'),
  dx('I69.300', '脑梗死后遗症', 'none', true),
  dx('E10.900', '1型糖尿病', 'CC', true, ['glu', 'hba1c', 'aspart', 'glargine']),
  dx('E11.900', '2型糖尿病', 'CC', true, ['glu', 'hba1c', 'metformin', 'aspart', 'glargine']),
  dx('E87.100', '低钠血症', 'CC', false, ['lytes']),
  dx('E87.600', '低钾血症', 'CC', false, ['lytes']),
  dx('D64.900', '贫血', 'CC', false, ['cbc', 'hgb']),
  dx('N17.900', '急性肾衰竭', 'MCC', false, ['renal', 'crea', 'lytes']),
  dx('N18.500', '慢性肾脏病5期', 'CC', true, ['renal', 'crea', 'hd', 'hdf']),
  dx('A41.900', '脓毒症', 'MCC', false, ['blood_culture', 'crp']),
  dx('B18.100', '慢性乙型病毒性肝炎', 'none', true),
  dx('K21.000', '胃食管反流病伴食管炎'),
  dx('K29.700', '胃炎'),
  dx('K74.600', '肝硬化', 'CC', true, ['liver', 'albumin']),
  dx('K80.100', '胆囊结石伴胆囊炎'),
  dx('K35.800', '急性阑尾炎'),
  dx('M54.500', '腰痛'),
  dx('M16.900', '髋关节病'),
  dx('M81.000', '绝经后骨质疏松'),
  dx('S72.000', '股骨颈骨折'),
  dx('S61.000', '手指开放性伤口'),
  dx('H25.900', '老年性白内障'),
  dx('H10.900', '结膜炎'),
  dx('C34.900', '肺恶性肿瘤', 'CC', true, ['chemo_iv', 'cisplatin', 'paclitaxel']),
  dx('C50.900', '乳房恶性肿瘤', 'CC', true, ['chemo_iv', 'paclitaxel', 'trastuzumab']),
  dx('C92.100', '慢性髓样白血病', 'CC', true, ['imatinib']),
  dx('Z51.100', '为肿瘤化学治疗疗程'),
  dx('Z49.100', '体外透析'),
  dx('Z34.900', '正常妊娠监督'),
  dx('O80.000', '单胎顺产'),
  dx('O82.000', '经剖宫产术的单胎分娩'),
  dx('N40.x00', '前列腺增生'),
  dx('L30.900', '皮炎'),
  dx('N94.600', '痛经'),
  dx('Z01.400', '妇科检查'),
  dx('F51.000', '失眠'),
  dx('F20.900', '精神分裂症', 'none', true),
  dx('G30.900', '阿尔茨海默病', 'none', true),
  dx('E03.900', '甲状腺功能减退症', 'none', true),
  dx('R07.400', '胸痛'),
  dx('R10.400', '腹痛'),
  dx('R50.900', '发热'),
  dx('Z95.500', '冠状动脉支架植入状态'),
]

const grp = (code: string, name: string, weight: number, avg_los_days: number, base_diag_prefix: string, cc?: PayGroupRow['cc']): PayGroupRow =>
  ({ type: 'DRG', code, name, weight, avg_los_days, base_diag_prefix, ...(cc ? { cc } : {}) })

/** CHS-DRG style: the last digit is the complication level (1 MCC, 3 CC, 5 none, 9 not split). */
const GROUPS: PayGroupRow[] = [
  grp('ES31', '呼吸系统感染/炎症，伴严重并发症或合并症', 1.42, 10, 'J18', 'MCC'),
  grp('ES33', '呼吸系统感染/炎症，伴一般并发症或合并症', 1.02, 8, 'J18', 'CC'),
  grp('ES35', '呼吸系统感染/炎症，不伴并发症或合并症', 0.78, 7, 'J18', 'none'),
  grp('ET21', '慢性阻塞性肺病，伴严重并发症或合并症', 1.3, 10, 'J44', 'MCC'),
  grp('ET23', '慢性阻塞性肺病，伴一般并发症或合并症', 1.05, 9, 'J44', 'CC'),
  grp('ET25', '慢性阻塞性肺病，不伴并发症或合并症', 0.88, 8, 'J44', 'none'),
  grp('BR21', '脑缺血性疾患，伴严重并发症或合并症', 1.56, 13, 'I63', 'MCC'),
  grp('BR23', '脑缺血性疾患，伴一般并发症或合并症', 1.18, 11, 'I63', 'CC'),
  grp('BR25', '脑缺血性疾患，不伴并发症或合并症', 0.96, 10, 'I63', 'none'),
  grp('FR21', '心力衰竭、休克，伴严重并发症或合并症', 1.48, 10, 'I50', 'MCC'),
  grp('FR23', '心力衰竭、休克，伴一般并发症或合并症', 1.16, 9, 'I50', 'CC'),
  grp('FR25', '心力衰竭、休克，不伴并发症或合并症', 0.92, 8, 'I50', 'none'),
  grp('KS11', '糖尿病，伴严重并发症或合并症', 1.05, 9, 'E11', 'MCC'),
  grp('KS13', '糖尿病，伴一般并发症或合并症', 0.85, 8, 'E11', 'CC'),
  grp('KS15', '糖尿病，不伴并发症或合并症', 0.7, 7, 'E11', 'none'),
  grp('FM19', '经皮冠状动脉支架置入', 2.65, 6, 'I2'),
  grp('FT21', '心绞痛，伴严重并发症或合并症', 1.02, 8, 'I20', 'MCC'),
  grp('FT23', '心绞痛，伴一般并发症或合并症', 0.82, 7, 'I20', 'CC'),
  grp('FT25', '心绞痛，不伴并发症或合并症', 0.68, 6, 'I20', 'none'),
  grp('HC21', '胆囊切除手术，伴严重并发症或合并症', 2.1, 8, 'K80', 'MCC'),
  grp('HC23', '胆囊切除手术，伴一般并发症或合并症', 1.7, 7, 'K80', 'CC'),
  grp('HC25', '胆囊切除手术，不伴并发症或合并症', 1.45, 6, 'K80', 'none'),
  grp('GD19', '阑尾切除术', 1.05, 6, 'K35'),
  grp('IC29', '髋、肩、膝、肘和踝关节置换术', 3.1, 13, 'M16'),
  grp('CB39', '晶体手术', 0.62, 3, 'H25'),
  grp('RE11', '恶性增生性疾患的化学治疗，伴严重并发症或合并症', 1.25, 5, 'Z51', 'MCC'),
  grp('RE13', '恶性增生性疾患的化学治疗，伴一般并发症或合并症', 1.02, 4, 'Z51', 'CC'),
  grp('RE15', '恶性增生性疾患的化学治疗，不伴并发症或合并症', 0.86, 4, 'Z51', 'none'),
  grp('OF19', '阴道分娩', 0.52, 3, 'O80'),
  grp('OB29', '剖宫产术', 0.98, 5, 'O82'),
  grp('LL19', '肾透析', 0.55, 3, 'Z49'),
  grp('XR19', '神经系统康复', 1.2, 18, 'I69'),
]

// ------------------------------------------------------------------ institutions and doctors

const SURNAME_TEXT = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤'
const GIVEN_TEXT = '伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鹏辉建国志文斌宇浩凯晨欣怡佳琪子涵雨轩梓萱思远博宏亮海燕春雪冬松林峰晓丹颖慧晶琳'

const SURNAMES = [...SURNAME_TEXT]
const GIVEN = [...GIVEN_TEXT]

/** A made-up name: a common surname and one or two given-name characters, so no real person is named. */
export function fakeName(rng: Rng): string {
  const g = rng.chance(0.7) ? rng.pick(GIVEN) + rng.pick(GIVEN) : rng.pick(GIVEN)
  return rng.pick(SURNAMES) + g
}

const HOSPITAL_NAMES_LV3 = [['人民医院', '综合医院'], ['中医医院', '中医医院']] as const
const HOSPITAL_NAMES_LV2 = [['第二人民医院', '综合医院'], ['中医院', '中医医院'], ['妇幼保健院', '专科医院'], ['康复医院', '专科医院']] as const

/** Departments (national 科室代码) each kind of institution staffs. */
export const DEPTS = {
  general: 'A02', internal: 'A03', surgery: 'A04', obgyn: 'A05', paediatrics: 'A07', ophthalmology: 'A10', oncology: 'A19',
  emergency: 'A20', rehab: 'A21', icu: 'A28', tcm: 'A50', pharmacy: 'A60',
} as const
const HOSPITAL_DEPTS = [DEPTS.internal, DEPTS.internal, DEPTS.internal, DEPTS.surgery, DEPTS.surgery, DEPTS.obgyn, DEPTS.paediatrics, DEPTS.ophthalmology, DEPTS.oncology, DEPTS.emergency, DEPTS.rehab, DEPTS.icu, DEPTS.tcm]

function jitter(rng: Rng, center: number, spread: number): number {
  return Math.round((center + (rng.next() - 0.5) * 2 * spread) * 1e5) / 1e5
}

function titleFor(rng: Rng, level: number): Doctor['title'] {
  const w: [Doctor['title'], number][] = level >= 3
    ? [['chief', 15], ['associate_chief', 25], ['attending', 35], ['resident', 25]]
    : level === 2
      ? [['chief', 8], ['associate_chief', 20], ['attending', 40], ['resident', 32]]
      : [['associate_chief', 10], ['attending', 40], ['resident', 50]]
  return rng.weighted(w)
}

function institutionsAndDoctors(rng: Rng): { institutions: Institution[]; doctors: Doctor[] } {
  const institutions: Institution[] = []
  const doctors: Doctor[] = []
  for (const region of REGIONS) {
    const serial = new Map<string, number>()
    const next = (admdvs: string, kind: 'H' | 'P'): string => {
      const n = (serial.get(admdvs + kind) ?? 0) + 1
      serial.set(admdvs + kind, n)
      return `${kind}${admdvs}${String(kind === 'P' ? 100 + n : n).padStart(5, '0')}`
    }
    const city = region.name.replace(/市.*$/, '').replace('朔州', '平鲁')
    const [n3, n2, n1, n0, np] = region.mix
    const add = (inst: Omit<Institution, 'lat' | 'lon'>, spread: number): void => {
      institutions.push({ ...inst, lat: jitter(rng, region.lat, spread), lon: jitter(rng, region.lon, spread) })
    }
    for (let i = 0; i < n3; i++) {
      const d = region.districts[i % region.districts.length]!
      const [suffix, type] = HOSPITAL_NAMES_LV3[i % HOSPITAL_NAMES_LV3.length]!
      add({ fixmedins_code: next(d.admdvs, 'H'), name: `${city}市${suffix}`.replace('市市', '市'), kind: 'hospital', level: 3, type, admdvs: d.admdvs, beds: rng.int(800, 1600), therapists: rng.int(10, 20) }, 0.05)
    }
    for (let i = 0; i < n2; i++) {
      const d = region.districts[(i + 1) % region.districts.length]!
      const [suffix, type] = HOSPITAL_NAMES_LV2[i % HOSPITAL_NAMES_LV2.length]!
      const therapists = suffix === '康复医院' ? rng.int(18, 30) : rng.int(4, 10)
      add({ fixmedins_code: next(d.admdvs, 'H'), name: `${d.name}${suffix}`, kind: 'hospital', level: 2, type, admdvs: d.admdvs, beds: rng.int(200, 550), therapists }, 0.12)
    }
    for (let i = 0; i < n1; i++) {
      const d = region.districts[i % region.districts.length]!
      const town = i % 2 === 0 ? `${d.name}${['东关', '北海', '南苑', '西城', '中心'][i % 5]}街道社区卫生服务中心` : `${d.name}${['新城', '柳疃', '马桥', '龙泉', '河口'][i % 5]}镇卫生院`
      // One therapist in about half of them: 基层 rehab exists but is thin, which is what capacity checks bite on.
      add({ fixmedins_code: next(d.admdvs, 'H'), name: town, kind: 'clinic', level: 1, type: '基层医疗机构', admdvs: d.admdvs, beds: rng.int(10, 60), therapists: i % 2 === 0 ? rng.int(1, 2) : 0 }, 0.15)
    }
    for (let i = 0; i < n0; i++) {
      const d = region.districts[(i + 2) % region.districts.length]!
      add({ fixmedins_code: next(d.admdvs, 'H'), name: `${d.name}${fakeName(rng).slice(0, 1)}氏诊所`, kind: 'clinic', level: 0, type: '诊所', admdvs: d.admdvs, beds: 0, therapists: 0 }, 0.1)
    }
    for (let i = 0; i < np; i++) {
      const d = region.districts[i % region.districts.length]!
      const chain = ['老百姓大药房', '一心堂药店', '益丰大药房', '漱玉平民大药房', '健之佳药房'][i % 5]!
      add({ fixmedins_code: next(d.admdvs, 'P'), name: `${chain}(${d.name}${i + 1}店)`, kind: 'pharmacy', level: 0, type: '药店', admdvs: d.admdvs, beds: 0, therapists: 0 }, 0.1)
    }
  }

  for (const inst of institutions) {
    const base = inst.fixmedins_code.slice(1)
    let n = 0
    const addDoctor = (title: Doctor['title'], dept: string): void => {
      n++
      doctors.push({ dr_code: `D${base}${String(n).padStart(3, '0')}`, fixmedins_code: inst.fixmedins_code, name: fakeName(rng), title, dept_codg: dept })
    }
    if (inst.kind === 'pharmacy') {
      // Licensed pharmacists (执业药师) sign pharmacy sales; listed so every atddr_no resolves.
      addDoctor('resident', DEPTS.pharmacy)
      addDoctor('resident', DEPTS.pharmacy)
      continue
    }
    if (inst.level >= 2) {
      const perDept = inst.level === 3 ? 4 : 2
      for (const dept of HOSPITAL_DEPTS) {
        // Every department has at least one chief and one associate chief at level 3,
        // so 主任/副主任诊查费 are billable where the titles exist.
        for (let i = 0; i < perDept; i++) {
          const title = inst.level === 3 && i === 0 ? 'chief' : inst.level === 3 && i === 1 ? 'associate_chief' : titleFor(rng, inst.level)
          addDoctor(title, dept)
        }
      }
    } else if (inst.level === 1) {
      for (const dept of [DEPTS.general, DEPTS.general, DEPTS.general, DEPTS.internal, DEPTS.tcm, DEPTS.paediatrics]) addDoctor(titleFor(rng, 1), dept)
    } else {
      addDoctor('attending', DEPTS.general)
      addDoctor('resident', DEPTS.general)
    }
  }
  return { institutions, doctors }
}

// ------------------------------------------------------------------ persons

/** A few registry rows, to show the format: registered chronic diseases (门诊慢特病) and a death date. */
function samplePersons(rng: Rng): Person[] {
  const out: Person[] = []
  const diseases = [['I10'], ['E11'], ['N18'], ['I10', 'E11'], ['B18'], ['J44'], [], []]
  for (let i = 0; i < 12; i++) {
    const region = REGIONS[i % REGIONS.length]!
    const year = rng.int(1935, 1975)
    const p: Person = {
      psn_no: `${region.admdvs}99${String(i + 1).padStart(8, '0')}`,
      gend: i % 2 === 0 ? '1' : '2',
      brdy: `${year}-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`,
      chronic_diseases: diseases[i % diseases.length]!,
      insuplc_admdvs: region.admdvs,
    }
    if (i % 4 === 3) p.death_date = `2025-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`
    out.push(p)
  }
  return out
}

export function sampleKnowledgeBase(seed = 1): KbData {
  const rng = Rng.derive(seed, 'sample-kb')
  const { institutions, doctors } = institutionsAndDoctors(rng)
  return {
    catalog: CATALOG.map((r) => ({ ...r, indications: [...r.indications], includes: [...r.includes], oprn_prefixes: [...r.oprn_prefixes] })),
    institutions,
    doctors,
    persons: samplePersons(rng),
    groups: GROUPS.map((g) => ({ ...g })),
    diagnoses: DIAGNOSES.map((d) => ({ ...d, evidence_items: [...d.evidence_items] })),
  }
}
