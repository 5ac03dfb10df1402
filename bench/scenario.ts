/** What every scenario prints as its one JSON line and adds to reports/bench/results.json. */
export interface ScenarioResult {
  scenario:
    | 'ceiling'
    | 'service-overhead'
    | 'end-to-end'
    | 'batching'
    | 'peer-express'
    | 'transformers-depth'
    | 'horizontal-scaling'
    | 'memory'
    | 'recovery'
    | 'soak'
    | 'scaling'
    | 'capacity'
    | 'uploads'
    | 'drift';
  model: string;
  /** Set when the model stands in for another: the report says so next to the figure. */
  standIn?: string;
  command: string;
  setup: Record<string, unknown>;
  figures: Record<string, unknown>;
  /** Issue targets this scenario is judged against, and whether this run met them. */
  targets?: Array<{ figure: string; target: string; value: number; met: boolean }>;
}

export interface BenchContext {
  quick: boolean;
  command: string;
}
