// Drift (issue 15): reference profiles of a model version's features and their comparison with production.
export {};
