import { performance } from 'node:perf_hooks';
import type { JobStatus } from '@fathom/contracts';
import { submit, type ApiInstance } from '../test/support/fathom-stack';

export interface InferSample {
  jobId: string;
  /** POST /v1/infer, from sending the form to the last byte of the answer. */
  wallMs: number;
}

export interface DriveResult {
  samples: InferSample[];
  seconds: number;
}

/** One client request through the synchronous route: submit, wait, read the primary artifact. */
export async function inferOnce(api: ApiInstance, model: string, image: { name: string; bytes: Buffer }): Promise<InferSample> {
  const started = performance.now();
  const response = await submit(api, { image: image.bytes, filename: image.name, model }, {}, '/v1/infer');
  await response.arrayBuffer();
  const wallMs = performance.now() - started;
  if (response.status !== 200) throw new Error(`POST /v1/infer answered ${response.status} for ${image.name}`);
  return { jobId: response.headers.get('x-fathom-job-id') ?? '', wallMs };
}

/**
 * `clients` closed-loop clients, each sending its next request as soon as the last one answered,
 * until `jobs` requests are done; images are taken in turn so every image is sent equally often
 * when `jobs` is a multiple of the set.
 */
export async function drive(api: ApiInstance, model: string, images: Array<{ name: string; bytes: Buffer }>, jobs: number, clients: number): Promise<DriveResult> {
  const samples: InferSample[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < jobs) {
        const image = images[next++ % images.length]!;
        samples.push(await inferOnce(api, model, image));
      }
    }),
  );
  return { samples, seconds: (performance.now() - started) / 1000 };
}

export async function jobStatus(api: ApiInstance, jobId: string): Promise<JobStatus> {
  const response = await fetch(`${api.url}/v1/jobs/${jobId}`);
  if (response.status !== 200) throw new Error(`GET /v1/jobs/${jobId} answered ${response.status}`);
  return (await response.json()) as JobStatus;
}
