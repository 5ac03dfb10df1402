import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The slice of s3rver (no type declarations of its own) that the tests use. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  httpServer?: Server;
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

export interface S3ServerHandle {
  /** http://127.0.0.1:<port>, for STORAGE_S3_ENDPOINT (path-style). */
  endpoint: string;
  bucket: string;
  /** The credentials s3rver checks signatures against. */
  accessKeyId: string;
  secretAccessKey: string;
  /** STORAGE_* for an API or worker on this server. */
  env: Record<string, string>;
  /** Stops answering (connections cut, the port closed); the objects stay in its folder. */
  stop(): Promise<void>;
  /** Serves the same folder on the same port again. */
  restart(): Promise<void>;
  /** Stops it for good and removes its folder. */
  remove(): Promise<void>;
}

/**
 * A real S3-protocol server (s3rver) in this process on a free port of 127.0.0.1, with one
 * bucket, its objects in a temporary folder: the S3 backend is tested over real HTTP.
 */
export async function startS3Server(bucket = 'fathom-test'): Promise<S3ServerHandle> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- s3rver is CommonJS without types
  const S3rver = require('s3rver') as S3rverClass;
  const directory = mkdtempSync(join(tmpdir(), 'fathom-s3-'));
  let port = 0;
  let server: S3rverInstance | undefined;
  const start = async () => {
    server = new S3rver({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: [{ name: bucket }] });
    port = (await server.run()).port;
  };
  const stop = async () => {
    const http = server?.httpServer;
    server = undefined;
    if (!http?.listening) return;
    const closed = new Promise<void>((resolve) => http.close(() => resolve()));
    // Keep-alive sockets of the clients would hold close() open until they idle out.
    http.closeAllConnections();
    await closed;
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  return {
    endpoint,
    bucket,
    ...credentials,
    env: {
      STORAGE_BACKEND: 's3',
      STORAGE_S3_ENDPOINT: endpoint,
      STORAGE_S3_BUCKET: bucket,
      STORAGE_S3_FORCE_PATH_STYLE: 'true',
      STORAGE_S3_ACCESS_KEY_ID: credentials.accessKeyId,
      STORAGE_S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    stop,
    restart: start,
    remove: async () => {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
