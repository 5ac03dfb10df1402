import type { Artifact, InferenceResult, ResultView } from '@fathom/contracts';
import { jobLinks } from './job-links';

export function artifactUrl(jobId: string, artifact: Artifact['name']): string {
  return `${jobLinks(jobId).result}?artifact=${artifact}`;
}

/** What a client sees of a result: the summary and where to download each artifact. */
export function resultView(jobId: string, result: InferenceResult): ResultView {
  return {
    primary: result.primary,
    artifacts: result.artifacts.map(({ name, contentType, bytes, width, height }) => ({
      name,
      contentType,
      bytes,
      width,
      height,
      url: artifactUrl(jobId, name),
    })),
    summary: result.summary,
  };
}
