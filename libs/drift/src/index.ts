// Drift (issue 15): reference profiles of a model version's features and their comparison with production.
// Pure and IO-free: rows in, a profile or a report out. docs/drift.md explains the mathematics.
export { psi, psiNoise, PSI_SMOOTHING } from './psi';
export { MIN_BIN_SHARE, NONE_LABEL, OTHER_LABEL, commonCategories, numericBin, numericBinLabels, quantileEdges } from './bins';
export { featureDefinitions, type DriftRow, type FeatureDefinition } from './features';
export { InsufficientReferenceError, buildReferenceProfile } from './reference-profile';
export { compareWithReference } from './compare';
