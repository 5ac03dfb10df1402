import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** OTLP/JSON as the exporter writes it (ids in hex, kinds as numbers). */
export interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number };
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
}
export interface ReceivedSpan extends OtlpSpan {
  service: string;
}

export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;

export function attribute(span: OtlpSpan, key: string): string | number | boolean | undefined {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.boolValue ?? value.doubleValue;
}

/** A collector stand-in: accepts POST /v1/traces (OTLP over HTTP, JSON) and keeps every span. */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  private readonly arrivals = new EventEmitter();
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        if (request.method === 'POST' && request.url === '/v1/traces') {
          const payload = JSON.parse(body) as {
            resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
          };
          for (const { resource, scopeSpans } of payload.resourceSpans) {
            const service = resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
            for (const { spans } of scopeSpans) for (const span of spans) this.spans.push({ ...span, service });
          }
          this.arrivals.emit('spans');
        }
        response.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves with the first received span that matches, waiting for exports up to `timeoutMs`. */
  span(matches: (span: ReceivedSpan) => boolean, what: string, timeoutMs = 10_000): Promise<ReceivedSpan> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.spans.find(matches);
        if (!found) return;
        clearTimeout(timer);
        this.arrivals.off('spans', check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.arrivals.off('spans', check);
        reject(new Error(`no span ${what} within ${timeoutMs} ms; received: ${this.spans.map((s) => s.name).join(', ')}`));
      }, timeoutMs);
      this.arrivals.on('spans', check);
      check();
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
