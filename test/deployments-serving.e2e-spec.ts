import sharp from 'sharp';
import { io, type Socket } from 'socket.io-client';
import { DEPLOYMENTS_NAMESPACE, DeploymentWsEvent, type DeploymentView, type JobAccepted } from '@fathom/contracts';
import { buildDepthStandInModel } from '@fathom/testing';
import { bearer, FathomStack, submit, type ApiInstance } from './support/fathom-stack';

/**
 * Issue 13 end to end with a real worker: a model version registered over REST while the worker
 * runs is served without a restart, runs a job, and once retired is unloaded (its report leaves
 * the worker's heartbeat).
 */
describe('a version registered over REST, served by a running worker, then retired', () => {
  let stack: FathomStack;
  let api: ApiInstance;
  let ops: { id: string; key: string };
  let socket: Socket;
  const heard: DeploymentView[] = [];

  const until = (matches: (view: DeploymentView) => boolean, what: string, timeoutMs = 60_000) =>
    new Promise<DeploymentView>((resolve, reject) => {
      const seen = heard.find(matches);
      if (seen) return resolve(seen);
      const timer = setTimeout(
        () => reject(new Error(`never heard ${what}: ${JSON.stringify(heard.map((v) => [v.state, v.workers]))}`)),
        timeoutMs,
      );
      const listener = (view: DeploymentView) => {
        if (!matches(view)) return;
        clearTimeout(timer);
        socket.off(DeploymentWsEvent.State, listener);
        resolve(view);
      };
      socket.on(DeploymentWsEvent.State, listener);
    });

  beforeAll(async () => {
    stack = await FathomStack.start();
    ops = await stack.createKey('ops', ['models:admin', 'jobs:write', 'jobs:read']);
    api = await stack.startApi({ API_AUTH: 'keys' });
    // A worker with no model of its own: it serves what the registry says.
    await stack.startWorker({ WORKER_BUILTIN_MODELS: 'false' });
    socket = io(`${api.url}${DEPLOYMENTS_NAMESPACE}`, { transports: ['websocket'], forceNew: true, auth: { token: ops.key } });
    socket.on(DeploymentWsEvent.State, (view: DeploymentView) => heard.push(view));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
  });
  afterAll(async () => {
    socket?.close();
    await stack.stop();
  });

  it('reaches serving on the running worker, runs a job, and is unloaded once retired', async () => {
    const form = new FormData();
    form.append(
      'manifest',
      JSON.stringify({ name: 'depth-live', version: '1.0.0', task: 'depth', input: { resize: { mode: 'fixed', width: 28, height: 28 } } }),
    );
    form.append('weights', new Blob([new Uint8Array(buildDepthStandInModel())]), 'depth.onnx');
    const response = await fetch(`${api.url}/v1/admin/models`, { method: 'POST', body: form, headers: bearer(ops.key) });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as DeploymentView;
    const serving = await until((v) => v.id === id && v.state === 'serving', 'serving');
    expect(serving.workers).toEqual([expect.objectContaining({ state: 'serving' })]);

    const image = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 20, g: 200, b: 90 } } })
      .png()
      .toBuffer();
    const submitted = await submit(api, { image, model: 'depth-live@1.0.0' }, bearer(ops.key));
    expect(submitted.status).toBe(202);
    const job = (await submitted.json()) as JobAccepted;
    expect((await stack.jobEnd(job.id, { key: ops.key })).state).toBe('completed');

    expect((await fetch(`${api.url}/v1/admin/models/depth-live/1.0.0`, { method: 'DELETE', headers: bearer(ops.key) })).status).toBe(202);
    await until((v) => v.id === id && v.state === 'retired', 'retired');
    // The worker unloads it and stops reporting it.
    await until((v) => v.id === id && v.state === 'retired' && v.workers.length === 0, 'no worker report');
  }, 120_000);
});
