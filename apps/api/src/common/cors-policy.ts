import type { IncomingMessage } from 'node:http';

/**
 * The one cross-origin allow-list (API_CORS_ORIGINS), read by the REST API's CORS headers and by
 * socket.io's handshake. Same-origin pages (the API's own web page) need no entry.
 */
export class CorsPolicy {
  private readonly allowed: ReadonlySet<string>;

  constructor(origins: readonly string[]) {
    this.allowed = new Set(origins);
  }

  /** True when a page of this origin may read the API's answers cross-origin. */
  allowsCrossOrigin(origin: string | undefined): boolean {
    return origin !== undefined && this.allowed.has(origin);
  }

  /**
   * Whether a socket.io handshake may go on. No Origin: not a browser (browsers always send one on
   * a WebSocket), so CORS has nothing to protect. Same host as the request's Host: the API's own
   * page (the scheme is not compared: behind a TLS proxy the API sees http).
   */
  allowsHandshake(request: Pick<IncomingMessage, 'headers'>): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    if (this.allowsCrossOrigin(origin)) return true;
    try {
      return new URL(origin).host === request.headers.host;
    } catch {
      return false;
    }
  }
}
