import sharp from 'sharp';
import type { JobAccepted } from '@fathom/contracts';
import { depthModelsDir, FathomStack, NULL_MODEL_INPUT, submit } from './support/fathom-stack';
import { buildDepthStandInModel } from '@fathom/testing';

/**
 * The database holds durable records (keys, the audit log, deployments); the job path runs on
 * Redis and the object store. A database that stops answering must not stop submissions: the API
 * resolves models from the last registry it read (which cannot change while the database is down).
 */
describe('the database stops answering while jobs flow', () => {
  let stack: FathomStack;
  let image: Buffer;

  beforeAll(async () => {
    stack = await FathomStack.start({ database: 'embedded' });
    await stack.startApi();
    await stack.startWorker({ MODELS_DIR: depthModelsDir(buildDepthStandInModel(), 'depth-test', NULL_MODEL_INPUT) });
    image = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 90, g: 120, b: 200 } } })
      .png()
      .toBuffer();
  }, 120_000);
  afterAll(() => stack?.stop());

  async function runJob(): Promise<string> {
    const response = await submit(stack.api, { image, model: 'depth-test' });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as JobAccepted;
    return (await stack.jobEnd(id)).state;
  }

  it('keeps accepting and completing jobs, says so in /readyz, and recovers when the database answers again', async () => {
    // Once the model is listed, as a client would see it before submitting.
    while (!JSON.stringify(await (await fetch(`${stack.api.url}/v1/models`)).json()).includes('depth-test'))
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await runJob()).toBe('completed');

    stack.database.pause!();
    try {
      // Every submission while the database hangs: accepted and completed, none waiting on the database.
      for (let i = 0; i < 3; i++) expect(await runJob()).toBe('completed');
      // Not ready (a load balancer reads the 503; the API's log names the check that failed).
      expect((await fetch(`${stack.api.url}/readyz`)).status).toBe(503);
    } finally {
      stack.database.resume!();
    }

    expect(await runJob()).toBe('completed');
    // /readyz is up again once a check reaches the database (each is bounded by the statement timeout).
    const deadline = Date.now() + 30_000;
    let status = (await fetch(`${stack.api.url}/readyz`)).status;
    while (status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = (await fetch(`${stack.api.url}/readyz`)).status;
    }
    expect(status).toBe(200);
  }, 120_000);
});
