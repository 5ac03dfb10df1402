import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';
import { ErrorCode, imageFormatSchema, WsEvent, type ImageFormat, type ModelRef, type ModelRoute } from '@fathom/contracts';
import { METRICS_REGISTRY } from './metrics.registry';

/** Events the gateway pushes to subscribed sockets (job.error answers a bad subscription: not a job event). */
export const PUSHED_WS_EVENTS = [WsEvent.State, WsEvent.Progress, WsEvent.Completed, WsEvent.Failed, WsEvent.Cancelled] as const;
export type PushedWsEvent = (typeof PUSHED_WS_EVENTS)[number];
/** Job ends that can go unheard (progress is not counted). */
export const UNHEARD_WS_EVENTS = [WsEvent.Completed, WsEvent.Failed] as const;
export type UnheardWsEvent = (typeof UNHEARD_WS_EVENTS)[number];

/** Why a key's limits refused a request: the error code its client gets. */
const LIMIT_REASONS = [ErrorCode.RateLimited, ErrorCode.QuotaExceeded] as const;
export type LimitReason = (typeof LIMIT_REASONS)[number];

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

/** An accepted image, as its metrics see it. */
export interface UploadedImage {
  format: ImageFormat;
  bytes: number;
  width: number;
  height: number;
}

const statusClass = (status: number) => `${Math.floor(status / 100)}xx`;

/**
 * The API's Prometheus metrics (docs/metrics.md, API section), counted through intent methods
 * (`jobSubmitted`, `jobCancelled`, …): the instruments are private, so a metric's names and labels
 * are decided here and only here. They go into the instance's registry (METRICS_REGISTRY: several
 * API instances can share a test process), as do the scrape-time gauges of the `*.collector.ts`
 * files. Labels are bounded: model, version, variant, task and route come from manifests and the
 * rollout, HTTP routes are Fastify's route patterns, never a job id or anything a client chose.
 */
@Injectable()
export class ApiMetrics {
  private readonly httpDuration = new Histogram({
    name: 'fathom_http_request_duration_seconds',
    help: 'HTTP request duration, by route pattern (/v1/jobs/:id), method and status class (2xx…5xx).',
    labelNames: ['route', 'method', 'status_class'] as const,
    buckets: HTTP_SECONDS_BUCKETS,
    registers: [],
  });

  private readonly httpInFlight = new Gauge({
    name: 'fathom_http_requests_in_flight',
    help: 'HTTP requests being handled now.',
    registers: [],
  });

  private readonly jobsSubmitted = new Counter({
    name: 'fathom_jobs_submitted_total',
    help: 'Jobs accepted, by the model version they were routed to and how (stable, canary, pinned).',
    labelNames: ['model', 'version', 'variant', 'task', 'route'] as const,
    registers: [],
  });

  private readonly jobsCancelled = new Counter({
    name: 'fathom_jobs_cancelled_total',
    help: 'Queued jobs cancelled by DELETE /v1/jobs/:id.',
    labelNames: ['model', 'version', 'task'] as const,
    registers: [],
  });

  private readonly uploads = new Counter({
    name: 'fathom_uploads_total',
    help: 'Accepted uploads, by the image format read from their bytes.',
    labelNames: ['format'] as const,
    registers: [],
  });

  private readonly uploadsRejected = new Counter({
    name: 'fathom_uploads_rejected_total',
    help: 'Uploads (POST /v1/jobs, POST /v1/infer) refused, by error code.',
    labelNames: ['reason'] as const,
    registers: [],
  });

  private readonly requestsLimited = new Counter({
    name: 'fathom_requests_limited_total',
    help: "Requests refused by an API key's limits: rate_limited (requests per second) or quota_exceeded (jobs in flight).",
    labelNames: ['reason'] as const,
    registers: [],
  });

  private readonly inputBytes = new Histogram({
    name: 'fathom_input_bytes',
    help: 'Size of accepted uploads, in bytes.',
    labelNames: ['model'] as const,
    buckets: INPUT_BYTES_BUCKETS,
    registers: [],
  });

  private readonly inputMegapixels = new Histogram({
    name: 'fathom_input_megapixels',
    help: 'Accepted images, width × height / 10⁶.',
    labelNames: ['model'] as const,
    buckets: INPUT_MEGAPIXELS_BUCKETS,
    registers: [],
  });

  private readonly inputWidth = new Histogram({
    name: 'fathom_input_width_pixels',
    help: 'Width of accepted images (as displayed, after EXIF orientation).',
    labelNames: ['model'] as const,
    buckets: INPUT_SIDE_BUCKETS,
    registers: [],
  });

  private readonly inputHeight = new Histogram({
    name: 'fathom_input_height_pixels',
    help: 'Height of accepted images (as displayed, after EXIF orientation).',
    labelNames: ['model'] as const,
    buckets: INPUT_SIDE_BUCKETS,
    registers: [],
  });

  private readonly wsClients = new Gauge({
    name: 'fathom_ws_clients_connected',
    help: 'socket.io clients connected to this instance (/jobs namespace).',
    registers: [],
  });

  private readonly wsEventsPushed = new Counter({
    name: 'fathom_ws_events_pushed_total',
    help: 'Job events sent to subscribed sockets, one per socket.',
    labelNames: ['event'] as const,
    registers: [],
  });

  private readonly wsEventsUnheard = new Counter({
    name: 'fathom_ws_events_unheard_total',
    help: 'Job ends (completed, failed) of jobs no client subscribed to on any API instance; counted once for the cluster.',
    labelNames: ['event'] as const,
    registers: [],
  });

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    for (const metric of [
      this.httpDuration,
      this.httpInFlight,
      this.jobsSubmitted,
      this.jobsCancelled,
      this.uploads,
      this.uploadsRejected,
      this.requestsLimited,
      this.inputBytes,
      this.inputMegapixels,
      this.inputWidth,
      this.inputHeight,
      this.wsClients,
      this.wsEventsPushed,
      this.wsEventsUnheard,
    ] as Metric[])
      registry.registerMetric(metric);
    // Bounded label values start at 0, so rate() and absent-series alerts see them from the first scrape.
    for (const format of imageFormatSchema.options) this.uploads.inc({ format }, 0);
    for (const event of PUSHED_WS_EVENTS) this.wsEventsPushed.inc({ event }, 0);
    for (const event of UNHEARD_WS_EVENTS) this.wsEventsUnheard.inc({ event }, 0);
    for (const reason of LIMIT_REASONS) this.requestsLimited.inc({ reason }, 0);
  }

  /** A request arrived (fathom_http_requests_in_flight until httpRequestClosed). */
  httpRequestStarted(): void {
    this.httpInFlight.inc();
  }

  /** A request's connection closed: answered, or given up by the client. */
  httpRequestClosed(): void {
    this.httpInFlight.dec();
  }

  /** A request was answered, by its route pattern (never the raw URL), in `seconds`. */
  httpRequestAnswered(route: string, method: string, status: number, seconds: number): void {
    this.httpDuration.observe({ route, method, status_class: statusClass(status) }, seconds);
  }

  /** A job was queued on the version it was routed to; its image goes on the model's input histograms. */
  jobSubmitted(model: Omit<ModelRef, 'route'>, route: ModelRoute, image: UploadedImage): void {
    this.jobsSubmitted.inc({ model: model.name, version: model.version, variant: model.variant ?? '', task: model.task, route });
    this.uploads.inc({ format: image.format });
    this.inputBytes.observe({ model: model.name }, image.bytes);
    this.inputMegapixels.observe({ model: model.name }, (image.width * image.height) / 1e6);
    this.inputWidth.observe({ model: model.name }, image.width);
    this.inputHeight.observe({ model: model.name }, image.height);
  }

  /** A queued job was cancelled. */
  jobCancelled(model: ModelRef): void {
    this.jobsCancelled.inc({ model: model.name, version: model.version, task: model.task });
  }

  /** An upload was refused, by the error code its client was answered with. */
  uploadRejected(reason: string): void {
    this.uploadsRejected.inc({ reason });
  }

  /** A request was refused by its key's (or address's) limits. */
  requestLimited(reason: LimitReason): void {
    this.requestsLimited.inc({ reason });
  }

  socketConnected(): void {
    this.wsClients.inc();
  }

  socketDisconnected(): void {
    this.wsClients.dec();
  }

  /** A job event went to one subscribed socket. */
  wsEventPushed(event: PushedWsEvent): void {
    this.wsEventsPushed.inc({ event });
  }

  /** A job ended that no client, on any instance, subscribed to (counted once for the cluster). */
  wsEventUnheard(event: UnheardWsEvent): void {
    this.wsEventsUnheard.inc({ event });
  }
}
