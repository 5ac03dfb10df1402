import type { ComparisonView, DatasetView, EvaluationView } from '@fathom/contracts';
import type { EvalCliConfig } from './eval.config';

/** An error body the API sent, kept whole so the CLI prints its code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The API's error body (`{error: {code, message, details}}`) as an ApiError; a body that is not one is shown as text. */
export function apiErrorOf(status: number, text: string): ApiError {
  let parsed: { error?: { code?: string; message?: string; details?: unknown } } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // not JSON: shown as text below
  }
  return new ApiError(
    status,
    parsed.error?.code ?? 'http_error',
    parsed.error?.message ?? `${status} ${text.slice(0, 200)}`,
    parsed.error?.details,
  );
}

/** The few API calls `npm run eval` makes: the CLI drives the API like any client, never a private path. */
export class EvalClient {
  constructor(private readonly config: EvalCliConfig) {}

  private async call<T>(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { accept };
    if (this.config.FATHOM_API_KEY) headers.authorization = `Bearer ${this.config.FATHOM_API_KEY}`;
    let payload: FormData | string | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetch(new URL(path, this.config.FATHOM_URL), { method, headers, body: payload });
    } catch (error) {
      throw new ApiError(
        0,
        'unreachable',
        `Could not reach the API at ${this.config.FATHOM_URL} (${(error as Error).message}). Start it with npm start, or set FATHOM_URL.`,
      );
    }
    const text = await response.text();
    if (!response.ok) throw apiErrorOf(response.status, text);
    return { status: response.status, body: (accept === 'application/json' ? JSON.parse(text) : text) as T };
  }

  async registerDataset(archive: Buffer, filename: string): Promise<DatasetView> {
    const form = new FormData();
    form.append('archive', new Blob([archive]), filename);
    return (await this.call<DatasetView>('POST', '/v1/datasets', form)).body;
  }

  async datasets(): Promise<DatasetView[]> {
    return (await this.call<{ datasets: DatasetView[] }>('GET', '/v1/datasets')).body.datasets;
  }

  async startEvaluation(body: { dataset: string; model: string; variant?: string; reuse?: boolean }): Promise<EvaluationView> {
    return (await this.call<EvaluationView>('POST', '/v1/evaluations', body)).body;
  }

  async evaluation(id: string): Promise<EvaluationView> {
    return (await this.call<EvaluationView>('GET', `/v1/evaluations/${encodeURIComponent(id)}`)).body;
  }

  async cancel(id: string): Promise<EvaluationView> {
    return (await this.call<EvaluationView>('DELETE', `/v1/evaluations/${encodeURIComponent(id)}`)).body;
  }

  async report(id: string): Promise<string> {
    return (await this.call<string>('GET', `/v1/evaluations/${encodeURIComponent(id)}/report`, undefined, 'text/html')).body;
  }

  async samples(id: string): Promise<string> {
    return (await this.call<string>('GET', `/v1/evaluations/${encodeURIComponent(id)}/samples`, undefined, 'application/x-ndjson')).body;
  }

  async compare(body: {
    dataset: string;
    a: string;
    b: string;
    variant?: string;
  }): Promise<{ ready: true; comparison: ComparisonView } | { ready: false; evaluations: EvaluationView[] }> {
    const { status, body: answer } = await this.call<ComparisonView | { evaluations: EvaluationView[] }>(
      'POST',
      '/v1/evaluations/compare',
      body,
    );
    return status === 202
      ? { ready: false, evaluations: (answer as { evaluations: EvaluationView[] }).evaluations }
      : { ready: true, comparison: answer as ComparisonView };
  }
}
