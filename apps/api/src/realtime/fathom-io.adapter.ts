import type { IncomingMessage } from 'node:http';
import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Server, ServerOptions } from 'socket.io';
import type { CorsPolicy } from '../common/cors-policy';

/**
 * socket.io under the API's CORS allow-list: a browser handshake from an origin that is neither
 * the API's own nor listed is refused (a WebSocket is not held back by CORS in the browser, so the
 * server checks the Origin itself), and polling answers carry CORS headers only for listed origins.
 */
export class FathomIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly cors: CorsPolicy,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: Partial<ServerOptions>): Server {
    return super.createIOServer(port, {
      ...options,
      cors: {
        origin: (origin: string | undefined, callback: (error: Error | null, allow?: boolean) => void) =>
          callback(null, this.cors.allowsCrossOrigin(origin)),
      },
      allowRequest: (request: IncomingMessage, callback: (error: string | null | undefined, success: boolean) => void) =>
        callback(null, this.cors.allowsHandshake(request)),
    }) as Server;
  }
}
