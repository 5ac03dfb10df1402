import { inferenceQueueName } from '@fathom/contracts';
import { clusterKeySlot } from '@fathom/testing';
import { BullmqLayout } from './bullmq-layout';
import type { RedisClient } from './redis-connection';
import { redisKeys } from './redis-keys';

const keys = redisKeys('fathom');
const slots = (...all: string[]) => new Set(all.map(clusterKeySlot));

/** Every group of keys one command, MULTI or Lua script touches together must be in one Redis Cluster slot (CROSSSLOT otherwise). */
describe("Fathom's Redis keys on a Redis Cluster", () => {
  it("puts a worker's beat in the index's slot: one MULTI registers it, one MGET reads every beat", () => {
    expect(slots(keys.workersIndex, keys.worker('w-1'), keys.worker('gpu-box-7:1234'))).toEqual(slots(keys.workersIndex));
  });

  it("puts a model's rollout and its log in one slot (one WATCH/MULTI writes both), and different models apart", () => {
    for (const model of ['depth', 'detect', 'a.b-c_d']) expect(slots(keys.rollout(model), keys.rolloutLog(model)).size).toBe(1);
    expect(slots(...['depth', 'detect', 'segment', 'classify'].map(keys.rollout)).size).toBeGreaterThan(1);
  });

  it("puts a job's audience keys in one slot (the claim script reads one and sets the other), and jobs apart", () => {
    const ids = ['0b6f7a6e-8a43-4a8f-9f6d-1b2c3d4e5f60', '7d1e9f00-2b3c-4d5e-8f90-a1b2c3d4e5f6', 'j1'];
    for (const id of ids)
      expect(slots(keys.watchedJob(id), keys.unheardEvent(id, 'completed'), keys.unheardEvent(id, 'failed')).size).toBe(1);
    expect(slots(...ids.map(keys.watchedJob)).size).toBe(ids.length);
  });

  it('gives each queue one slot for all its BullMQ keys, and spreads the queues over the slots', () => {
    const layout = new BullmqLayout(null as unknown as RedisClient, 'fathom');
    const queues = [
      inferenceQueueName('depth', '1.0.0'),
      inferenceQueueName('depth', '1.1.0'),
      inferenceQueueName('depth', '1.1.0', 'mirrors'),
      inferenceQueueName('detect', '2.0.0'),
    ];
    for (const queue of queues) {
      const { events, wait, paused, job } = layout.keys(queue);
      expect(slots(events, wait, paused, job('1'), job('0b6f7a6e-8a43-4a8f-9f6d-1b2c3d4e5f60')).size).toBe(1);
    }
    expect(slots(...queues.map((queue) => layout.keys(queue).wait)).size).toBe(queues.length);
  });

  it('keeps keys only ever touched alone untagged, so they spread over the slots', () => {
    for (const key of [keys.jobRecord('j1'), keys.idempotency('h'), keys.catalog, keys.inFlight('k1')]) expect(key).not.toMatch(/[{}]/);
  });
});
