import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchImage } from '../bench-images';

/**
 * One HTTP request of a load run, the same client code for the peer and for Fathom: a multipart
 * POST with the image (plus `fields`), answered or not within the client's timeout.
 */
export interface HttpTarget {
  url: string;
  fields?: Record<string, string>;
}

export type Outcome =
  /** 200 with the whole artifact read. */
  | 'ok'
  /** 202: accepted as a job (POST /v1/jobs), or POST /v1/infer giving up waiting (its timeout). */
  | 'accepted'
  /** 429 or 503: refused, the client may retry. */
  | 'refused'
  /** Any other status, or the connection failed. */
  | 'error'
  /** No whole answer within the client's timeout: to a user, a hung request. */
  | 'timeout';

export interface Attempt {
  outcome: Outcome;
  status?: number;
  retryAfter?: string;
  /** The job id of a 202 (its JSON body), or of a 200 (Fathom's x-fathom-job-id). */
  jobId?: string;
  /** What went wrong, for `error`. */
  detail?: string;
  /** Since the run started, when the request was sent and when it settled. */
  sentMs: number;
  settledMs: number;
}

export async function attempt(target: HttpTarget, image: BenchImage, timeoutMs: number, runStarted: number): Promise<Attempt> {
  const body = new FormData();
  for (const [name, value] of Object.entries(target.fields ?? {})) body.append(name, value);
  body.append('image', new Blob([new Uint8Array(image.bytes)]), image.name);
  const sentMs = performance.now() - runStarted;
  const settled = (a: Omit<Attempt, 'sentMs' | 'settledMs'>): Attempt => ({ ...a, sentMs, settledMs: performance.now() - runStarted });
  try {
    const response = await fetch(target.url, { method: 'POST', body, signal: AbortSignal.timeout(timeoutMs) });
    const bytes = Buffer.from(await response.arrayBuffer()); // the timeout covers the body too
    const status = response.status;
    if (status === 200) return settled({ outcome: 'ok', status, jobId: response.headers.get('x-fathom-job-id') ?? undefined });
    if (status === 202) return settled({ outcome: 'accepted', status, jobId: (JSON.parse(bytes.toString()) as { id: string }).id });
    if (status === 429 || status === 503)
      return settled({ outcome: 'refused', status, retryAfter: response.headers.get('retry-after') ?? undefined });
    return settled({ outcome: 'error', status, detail: `${status} ${bytes.toString().slice(0, 200)}` });
  } catch (error) {
    // Duck-typed: the timeout's DOMException is not an `Error` of every realm (jest's, for one).
    const { name, message, cause } = (typeof error === 'object' && error !== null ? error : {}) as {
      name?: unknown;
      message?: unknown;
      cause?: { message?: unknown };
    };
    if (name === 'TimeoutError' || name === 'AbortError') return settled({ outcome: 'timeout' });
    const why = typeof cause?.message === 'string' ? `: ${cause.message}` : '';
    return settled({ outcome: 'error', detail: `${typeof message === 'string' ? message : String(error)}${why}` });
  }
}

export interface LoadRun {
  attempts: Attempt[];
  /** From the first send to the last settled request. */
  seconds: number;
}

/**
 * `clients` closed-loop clients, each sending its next request when the last one settled, until
 * `requests` were sent; images in turn, as bench/load-driver.ts does.
 */
export async function closedLoop(
  target: HttpTarget,
  images: BenchImage[],
  requests: number,
  clients: number,
  timeoutMs: number,
): Promise<LoadRun> {
  const attempts: Attempt[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < requests) attempts.push(await attempt(target, images[next++ % images.length]!, timeoutMs, started));
    }),
  );
  return { attempts, seconds: (performance.now() - started) / 1000 };
}

export interface OpenLoopRun extends LoadRun {
  /** Requests sent per second, as achieved (the generator shares the cores with the servers). */
  sentPerSecond: number;
  /** How late the generator sent its latest request, in ms: near 0 when it kept the pace. */
  maxSendLagMs: number;
  /** Requests sent but not yet settled when the sending stopped. */
  inFlightAtEnd: number;
}

/**
 * A fixed arrival rate, whatever the server does (open loop): request i is sent at i/rate
 * seconds, for `seconds`, then every request is waited for until it settles or times out.
 * `onSettled` sees each request as it settles; times are counted from `started` (default: now).
 */
export async function openLoop(
  target: HttpTarget,
  images: BenchImage[],
  ratePerSecond: number,
  seconds: number,
  timeoutMs: number,
  opts: { started?: number; onSettled?: (attempt: Attempt) => void } = {},
): Promise<OpenLoopRun> {
  const total = Math.max(1, Math.round(ratePerSecond * seconds));
  const pending: Array<Promise<Attempt>> = [];
  let settled = 0;
  let maxSendLagMs = 0;
  const started = opts.started ?? performance.now();
  for (let i = 0; i < total; i++) {
    const due = (i * 1000) / ratePerSecond;
    let wait = due - (performance.now() - started);
    if (wait < 0) maxSendLagMs = Math.max(maxSendLagMs, -wait);
    // Arrivals are the clock here, not the answers: waiting for the due time is the point. Node's
    // timers round to whole milliseconds and can wake up to 1 ms early, so wait again until due.
    while (wait > 0) {
      await sleep(Math.max(1, wait));
      wait = due - (performance.now() - started);
    }
    pending.push(
      attempt(target, images[i % images.length]!, timeoutMs, started).then((a) => {
        settled++;
        opts.onSettled?.(a);
        return a;
      }),
    );
  }
  const sendSeconds = (performance.now() - started) / 1000;
  const inFlightAtEnd = total - settled;
  const attempts = await Promise.all(pending);
  return {
    attempts,
    seconds: (performance.now() - started) / 1000,
    sentPerSecond: total > 1 && sendSeconds > 0 ? Math.round(((total - 1) / sendSeconds) * 100) / 100 : ratePerSecond,
    maxSendLagMs: Math.round(maxSendLagMs),
    inFlightAtEnd,
  };
}
