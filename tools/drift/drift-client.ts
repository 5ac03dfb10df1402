import type { DriftReferenceSource, DriftReport, JobAccepted, JobStatus, ReferenceProfile } from '@fathom/contracts';
import { ApiError, apiErrorOf } from '../eval/eval-client';
import type { EvalCliConfig } from '../eval/eval.config';

export { ApiError };

/** Refusals waited out (429, 503 with Retry-After) before one is reported. */
const MAX_ATTEMPTS = 30;
const MAX_RETRY_AFTER_SECONDS = 10;

/** A version's reference as the API shows it (PUT's answer, and in GET /v1/models/:name/drift). */
export interface ReferenceView {
  source: DriftReferenceSource;
  rows: number;
  createdAt: string;
  createdBy: string;
}

/** One version in GET /v1/models/:name/drift: its reference, its latest production window and the comparison. */
export interface VersionDrift {
  version: string;
  reference: ReferenceView | null;
  window: { rows: number; from: string | null; to: string | null };
  report: DriftReport | null;
}

/** GET /v1/models/:name/drift's body. */
export interface ModelDrift {
  model: string;
  versions: VersionDrift[];
}

/** The API calls `npm run drift` makes: like any client, never a private path. */
export class DriftClient {
  constructor(private readonly config: EvalCliConfig) {}

  private async call<T>(method: string, path: string, body?: FormData | object): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.config.FATHOM_API_KEY) headers.authorization = `Bearer ${this.config.FATHOM_API_KEY}`;
    let payload: FormData | string | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let response: Response;
    let text: string;
    for (let attempt = 1; ; attempt++) {
      try {
        response = await fetch(new URL(path, this.config.FATHOM_URL), { method, headers, body: payload });
      } catch (error) {
        throw new ApiError(
          0,
          'unreachable',
          `Could not reach the API at ${this.config.FATHOM_URL} (${(error as Error).message}). Start it with npm start, or set FATHOM_URL.`,
        );
      }
      text = await response.text();
      // A rate limit, the key's jobs-in-flight quota or a full queue: wait as told, then send it again.
      const retryAfter = Number(response.headers.get('retry-after'));
      if ((response.status === 429 || response.status === 503) && retryAfter > 0 && attempt < MAX_ATTEMPTS) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(retryAfter, MAX_RETRY_AFTER_SECONDS) * 1000));
        continue;
      }
      break;
    }
    if (!response.ok) throw apiErrorOf(response.status, text);
    return { status: response.status, body: JSON.parse(text) as T };
  }

  /** POST /v1/jobs with purpose=reference: an image profiled for the version's reference, kept out of its production window. */
  async submitReferenceImage(model: string, image: Buffer, filename: string): Promise<JobAccepted> {
    const form = new FormData();
    form.append('model', model);
    form.append('purpose', 'reference');
    form.append('image', new Blob([new Uint8Array(image)]), filename);
    return (await this.call<JobAccepted>('POST', '/v1/jobs', form)).body;
  }

  async job(id: string): Promise<JobStatus> {
    return (await this.call<JobStatus>('GET', `/v1/jobs/${encodeURIComponent(id)}`)).body;
  }

  async setReference(name: string, version: string, source: DriftReferenceSource): Promise<ReferenceView> {
    return (await this.call<ReferenceView>('PUT', referencePath(name, version), { source })).body;
  }

  /** The stored reference with its profile: each feature's bins and shares. */
  async reference(name: string, version: string): Promise<ReferenceView & { profile: ReferenceProfile }> {
    return (await this.call<ReferenceView & { profile: ReferenceProfile }>('GET', referencePath(name, version))).body;
  }

  async drift(name: string): Promise<ModelDrift> {
    return (await this.call<ModelDrift>('GET', `/v1/models/${encodeURIComponent(name)}/drift`)).body;
  }
}

function referencePath(name: string, version: string): string {
  return `/v1/admin/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/drift-reference`;
}
