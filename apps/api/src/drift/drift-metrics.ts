import { Inject, Injectable } from '@nestjs/common';
import { Gauge, type Registry } from 'prom-client';
import type { DriftReport } from '@fathom/contracts';
import { METRICS_REGISTRY } from '../metrics/metrics.registry';

/**
 * Drift's gauges (docs/metrics.md, Drift), set by the monitor on the one instance that holds its
 * lease and emptied on the others, so each series comes from one instance at a time. The
 * reference/production shares are what the Drift dashboard draws side by side per feature.
 */
@Injectable()
export class DriftMetrics {
  private readonly psi: Gauge<'model' | 'version' | 'feature'>;
  private readonly driftEstimate: Gauge<'model' | 'version' | 'feature'>;
  private readonly score: Gauge<'model' | 'version' | 'side'>;
  private readonly windowRows: Gauge<'model' | 'version'>;
  private readonly share: Gauge<'model' | 'version' | 'feature' | 'bin' | 'distribution'>;
  private readonly lastRound: Gauge;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    const registers = [registry];
    this.psi = new Gauge({
      name: 'fathom_drift_psi',
      help: 'Population stability index of a feature: the version’s latest production window against its reference profile.',
      labelNames: ['model', 'version', 'feature'] as const,
      registers,
    });
    this.driftEstimate = new Gauge({
      name: 'fathom_drift_feature_score',
      help: 'A feature’s PSI less what sampling noise alone gives at these window and reference sizes (floored at 0): what the score takes the largest of.',
      labelNames: ['model', 'version', 'feature'] as const,
      registers,
    });
    this.score = new Gauge({
      name: 'fathom_drift_score',
      help: 'Drift score per side (input, output): the largest noise-corrected feature PSI; above 0.2 is drift. Absent while the window has under 200 predictions.',
      labelNames: ['model', 'version', 'side'] as const,
      registers,
    });
    this.windowRows = new Gauge({
      name: 'fathom_drift_window_predictions',
      help: 'Production predictions in the version’s drift window.',
      labelNames: ['model', 'version'] as const,
      registers,
    });
    this.share = new Gauge({
      name: 'fathom_drift_bin_share',
      help: 'Share of a feature’s values in one bin ("03 12.5–40": its position, then its range or category), distribution="reference" or "production": the training-versus-production histograms.',
      labelNames: ['model', 'version', 'feature', 'bin', 'distribution'] as const,
      registers,
    });
    this.lastRound = new Gauge({
      name: 'fathom_drift_last_round_timestamp_seconds',
      help: 'When this instance last scored drift (it holds the monitor’s lease); absent elsewhere.',
      registers,
    });
  }

  /** One round's reports replace the last round's series. */
  roundScored(reports: ReadonlyArray<{ model: string; version: string; rows: number; report: DriftReport | null }>): void {
    this.clear();
    for (const { model, version, rows, report } of reports) {
      this.windowRows.set({ model, version }, rows);
      if (!report) continue;
      for (const side of ['input', 'output'] as const) {
        const score = report.scores[side];
        if (score !== null) this.score.set({ model, version, side }, score);
      }
      for (const feature of report.features) {
        if (feature.psi !== null) this.psi.set({ model, version, feature: feature.name }, feature.psi);
        if (feature.drift !== null) this.driftEstimate.set({ model, version, feature: feature.name }, feature.drift);
        feature.bins.forEach((label, i) => {
          // Numbered, so a dashboard that orders bins by their label's text orders them by value.
          const bin = `${String(i + 1).padStart(2, '0')} ${label}`;
          this.share.set({ model, version, feature: feature.name, bin, distribution: 'reference' }, feature.reference[i] ?? 0);
          if (feature.count > 0)
            this.share.set({ model, version, feature: feature.name, bin, distribution: 'production' }, feature.production[i] ?? 0);
        });
      }
    }
    this.lastRound.set(Date.now() / 1000);
  }

  /** Another instance scores drift now: none of these series come from here. */
  clear(): void {
    for (const gauge of [this.psi, this.driftEstimate, this.score, this.windowRows, this.share, this.lastRound]) gauge.reset();
  }
}
