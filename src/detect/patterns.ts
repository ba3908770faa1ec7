/**
 * The fraud and abuse patterns of DOMAIN.md, by the id of the detector that
 * catches each. The generator labels injected fraud with these ids and the
 * evaluation matches alerts to labels by them, so a detector's id is its
 * pattern id. `kind` says whether it runs per event (stream) or over history (audit).
 */
export const PATTERNS = {
  'duplicate-charge': { zh: '重复收费', en: 'Duplicate charge', kind: 'stream' },
  'restricted-item': { zh: '限性别/限年龄/限医院等级', en: 'Gender, age or institution-level restricted item', kind: 'stream' },
  'split-hospitalization': { zh: '分解住院', en: 'Split hospitalization', kind: 'stream' },
  'over-standard-charge': { zh: '超标准收费', en: 'Over-standard charge', kind: 'stream' },
  'out-of-scope': { zh: '超医保支付范围(限适应症)', en: 'Out-of-scope settlement (indication restricted)', kind: 'stream' },
  'over-quantity': { zh: '超量开药', en: 'Over-quantity / days of supply', kind: 'stream' },
  'split-prescription': { zh: '分解处方', en: 'Split prescription', kind: 'stream' },
  unbundling: { zh: '分解收费', en: 'Unbundling', kind: 'stream' },
  'phantom-service': { zh: '虚构服务', en: 'Phantom services', kind: 'stream' },
  'bed-holding': { zh: '挂床住院', en: 'Bed-holding', kind: 'stream' },
  'drg-upcoding': { zh: '高套病种/高套分组', en: 'DRG/DIP upcoding', kind: 'stream' },
  'service-level-upcoding': { zh: '高套收费', en: 'Service-level upcoding', kind: 'stream' },
  'frequent-visits': { zh: '频繁就医', en: 'Frequent visits', kind: 'stream' },
  'drug-hoarding': { zh: '囤药倒卖', en: 'Drug hoarding across pharmacies', kind: 'stream' },
  'identity-misuse': { zh: '冒名就医', en: 'Identity misuse', kind: 'stream' },
  'dialysis-frequency': { zh: '血液透析超频次', en: 'Dialysis above the weekly norm', kind: 'stream' },
  'high-value-consumable': { zh: '高值耗材无对应手术', en: 'High-value consumable without a matching operation', kind: 'stream' },
  'chronic-disease-abuse': { zh: '门诊慢特病违规', en: 'Chronic-disease outpatient abuse', kind: 'stream' },
  'provider-outlier': { zh: '机构/医生异常', en: 'Provider outliers', kind: 'audit' },
  'case-mix-drift': { zh: '病例组合指数异常上升', en: 'Case-mix drift', kind: 'audit' },
  collusion: { zh: '团伙/聚集性就医', en: 'Collusion clusters', kind: 'audit' },
  'inventory-mismatch': { zh: '串换药品(进销存不符)', en: 'Item swapping (inventory mismatch)', kind: 'audit' },
  'capacity-exceeded': { zh: '超服务能力', en: 'Therapist or department capacity exceeded', kind: 'audit' },
} as const
export type PatternId = keyof typeof PATTERNS
