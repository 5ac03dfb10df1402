import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { imageFormatSchema, WsEvent, type ImageFormat } from '@fathom/contracts';

/** Events the gateway pushes to subscribed sockets (job.error answers a bad subscription: not a job event). */
export const PUSHED_WS_EVENTS = [WsEvent.State, WsEvent.Progress, WsEvent.Completed, WsEvent.Failed, WsEvent.Cancelled] as const;
export type PushedWsEvent = (typeof PUSHED_WS_EVENTS)[number];
/** Events the relay reads from the queues and may find no listener for. */
/** Job ends that can go unheard (progress is not counted). */
const UNHEARD_WS_EVENTS = [WsEvent.Completed, WsEvent.Failed] as const;

/** Uploads answer in milliseconds; POST /v1/infer waits for the job (API_INFER_TIMEOUT_MS, 30 s by default). */
const HTTP_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Upload size, 10 kB … 50 MB (the default upload limit is 25 MiB). */
const INPUT_BYTES_BUCKETS = [10e3, 30e3, 100e3, 300e3, 1e6, 2.5e6, 5e6, 10e6, 25e6, 50e6];
/**
 * Width × height in megapixels, 0.01 (100×100) … 50 (above the default 40 MP limit). 32 and 40 are
 * bounds because FathomUnusualInputSize (deploy/prometheus/alerts.yml) compares p95 against 32 MP
 * (80% of IMAGE_MAX_PIXELS's default) and 40 MP is that default: a quantile inside a wider bucket
 * would be interpolated across the threshold (25 MP uploads would read as p95 35 MP).
 */
const INPUT_MEGAPIXELS_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 12, 16, 24, 32, 40, 50];
/** Image sides in pixels, powers of two 16 … 16384. */
const INPUT_SIDE_BUCKETS = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];

/**
 * The API's Prometheus metrics (docs/metrics.md, API section), in a registry of its own (several
 * API instances can share a test process). Labels are bounded: model, version, variant, task and
 * route come from manifests and the rollout, HTTP routes are Fastify's route patterns, never a
 * job id or anything a client chose. The queue and worker gauges are computed at scrape time by
 * QueueMetricsCollector, into this registry.
 */
@Injectable()
export class ApiMetrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'fathom_http_request_duration_seconds',
    help: 'HTTP request duration, by route pattern (/v1/jobs/:id), method and status class (2xx…5xx).',
    labelNames: ['route', 'method', 'status_class'] as const,
    buckets: HTTP_SECONDS_BUCKETS,
    registers: [this.registry],
  });

  readonly httpInFlight = new Gauge({
    name: 'fathom_http_requests_in_flight',
    help: 'HTTP requests being handled now.',
    registers: [this.registry],
  });

  readonly jobsSubmitted = new Counter({
    name: 'fathom_jobs_submitted_total',
    help: 'Jobs accepted, by the model version they were routed to and how (stable, canary, pinned).',
    labelNames: ['model', 'version', 'variant', 'task', 'route'] as const,
    registers: [this.registry],
  });

  readonly jobsCancelled = new Counter({
    name: 'fathom_jobs_cancelled_total',
    help: 'Queued jobs cancelled by DELETE /v1/jobs/:id.',
    labelNames: ['model', 'version', 'task'] as const,
    registers: [this.registry],
  });

  readonly uploads = new Counter({
    name: 'fathom_uploads_total',
    help: 'Accepted uploads, by the image format read from their bytes.',
    labelNames: ['format'] as const,
    registers: [this.registry],
  });

  readonly uploadsRejected = new Counter({
    name: 'fathom_uploads_rejected_total',
    help: 'Uploads (POST /v1/jobs, POST /v1/infer) refused, by error code.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly inputBytes = new Histogram({
    name: 'fathom_input_bytes',
    help: 'Size of accepted uploads, in bytes.',
    labelNames: ['model'] as const,
    buckets: INPUT_BYTES_BUCKETS,
    registers: [this.registry],
  });

  readonly inputMegapixels = new Histogram({
    name: 'fathom_input_megapixels',
    help: 'Accepted images, width × height / 10⁶.',
    labelNames: ['model'] as const,
    buckets: INPUT_MEGAPIXELS_BUCKETS,
    registers: [this.registry],
  });

  readonly inputWidth = new Histogram({
    name: 'fathom_input_width_pixels',
    help: 'Width of accepted images (as displayed, after EXIF orientation).',
    labelNames: ['model'] as const,
    buckets: INPUT_SIDE_BUCKETS,
    registers: [this.registry],
  });

  readonly inputHeight = new Histogram({
    name: 'fathom_input_height_pixels',
    help: 'Height of accepted images (as displayed, after EXIF orientation).',
    labelNames: ['model'] as const,
    buckets: INPUT_SIDE_BUCKETS,
    registers: [this.registry],
  });

  readonly wsClients = new Gauge({
    name: 'fathom_ws_clients_connected',
    help: 'socket.io clients connected to this instance (/jobs namespace).',
    registers: [this.registry],
  });

  readonly wsEventsPushed = new Counter({
    name: 'fathom_ws_events_pushed_total',
    help: 'Job events sent to subscribed sockets, one per socket.',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });

  readonly wsEventsUnheard = new Counter({
    name: 'fathom_ws_events_unheard_total',
    help: 'Job ends (completed, failed) of jobs no client subscribed to on any API instance; counted once for the cluster.',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Bounded label values start at 0, so rate() and absent-series alerts see them from the first scrape.
    for (const format of imageFormatSchema.options) this.uploads.inc({ format }, 0);
    for (const event of PUSHED_WS_EVENTS) this.wsEventsPushed.inc({ event }, 0);
    for (const event of UNHEARD_WS_EVENTS) this.wsEventsUnheard.inc({ event }, 0);
  }

  /** An accepted upload: its format, and its size on the model's input histograms. */
  recordUpload(model: string, image: { format: ImageFormat; bytes: number; width: number; height: number }): void {
    this.uploads.inc({ format: image.format });
    this.inputBytes.observe({ model }, image.bytes);
    this.inputMegapixels.observe({ model }, (image.width * image.height) / 1e6);
    this.inputWidth.observe({ model }, image.width);
    this.inputHeight.observe({ model }, image.height);
  }
}
