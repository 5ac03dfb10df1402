import { inferenceResultSchema, type InferenceResult } from './job-result';

/**
 * Jobs written by Fathom 0.1 (one task "heatmap" or "depth", one artifact per result) may still be
 * queued, or completed within retention, when a newer worker or API starts. These read them in the
 * current shape, so an upgrade neither fails queued jobs nor hides finished results.
 */

type Raw = Record<string, unknown>;
const isObject = (value: unknown): value is Raw => typeof value === 'object' && value !== null && !Array.isArray(value);

/** 0.1 job data had no top-level `task`, and text detection was the dense-map task "heatmap". */
export function upgradeJobData(raw: unknown): unknown {
  if (!isObject(raw) || 'task' in raw || !isObject(raw.model)) return raw;
  const task = raw.model.task;
  if (task === 'heatmap') {
    const options = isObject(raw.options) ? raw.options : {};
    return {
      ...raw,
      task: 'text-detection',
      model: { ...raw.model, task: 'text-detection' },
      options: { output: 'heatmap', colormap: options.colormap ?? 'turbo' },
    };
  }
  return { ...raw, task };
}

/** 0.1 results had one `artifact`; a depth result becomes the `depth` artifact it was. */
export function upgradeInferenceResult(raw: unknown): unknown {
  if (!isObject(raw) || 'artifacts' in raw || !isObject(raw.artifact) || !isObject(raw.summary)) return raw;
  if (raw.summary.task !== 'depth') return raw; // 0.1 heat maps have no boxes to summarise: left unreadable
  const { artifact, ...rest } = raw;
  return { ...rest, primary: 'depth', artifacts: [{ name: 'depth', ...artifact }] };
}

/** A job's return value as a current result, or null when it is none (malformed, or a 0.1 heat map). */
export function parseInferenceResult(raw: unknown): InferenceResult | null {
  const parsed = inferenceResultSchema.safeParse(upgradeInferenceResult(raw));
  return parsed.success ? parsed.data : null;
}
