// The one list of detectors. The engine's registry (src/detect/registry.ts)
// reads and checks it; nothing else in the engine names a detector. Adding a
// detector = a folder + a line here.
import duplicateCharge from './duplicate-charge/index.ts'
import restrictedItem from './restricted-item/index.ts'
import splitHospitalization from './split-hospitalization/index.ts'
import overStandardCharge from './over-standard-charge/index.ts'
import outOfScope from './out-of-scope/index.ts'
import overQuantity from './over-quantity/index.ts'
import splitPrescription from './split-prescription/index.ts'
import unbundling from './unbundling/index.ts'
import phantomService from './phantom-service/index.ts'
import bedHolding from './bed-holding/index.ts'
import drgUpcoding from './drg-upcoding/index.ts'
import serviceLevelUpcoding from './service-level-upcoding/index.ts'
import frequentVisits from './frequent-visits/index.ts'
import drugHoarding from './drug-hoarding/index.ts'
import identityMisuse from './identity-misuse/index.ts'
import dialysisFrequency from './dialysis-frequency/index.ts'
import highValueConsumable from './high-value-consumable/index.ts'
import chronicDiseaseAbuse from './chronic-disease-abuse/index.ts'
// Audit (事后) detectors: SQL over the stored history, run by src/audit/runner.ts.
import providerOutlier from './provider-outlier/index.ts'
import caseMixDrift from './case-mix-drift/index.ts'
import collusion from './collusion/index.ts'
import inventoryMismatch from './inventory-mismatch/index.ts'
import capacityExceeded from './capacity-exceeded/index.ts'

export const detectors = [
  duplicateCharge,
  restrictedItem,
  splitHospitalization,
  overStandardCharge,
  outOfScope,
  overQuantity,
  splitPrescription,
  unbundling,
  phantomService,
  bedHolding,
  drgUpcoding,
  serviceLevelUpcoding,
  frequentVisits,
  drugHoarding,
  identityMisuse,
  dialysisFrequency,
  highValueConsumable,
  chronicDiseaseAbuse,
  providerOutlier,
  caseMixDrift,
  collusion,
  inventoryMismatch,
  capacityExceeded,
] as const
