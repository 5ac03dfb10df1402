import type { BatchingSpec } from '@fathom/models';

interface Group<T> {
  policy: BatchingSpec;
  items: Array<{ item: T; readyAt: number }>;
}

/** What to do next: run these items as one batch, or wait this long for a batch to fill. */
export type NextBatch<T> = { key: string; items: T[] } | { waitMs: number };

/**
 * Inputs ready for inference, grouped by a key (model and tensor shape: only inputs of one shape
 * stack into a batch). A group is due when it holds `maxBatch` items or its oldest has waited
 * `maxDelayMs`; of the due groups, the one waiting longest runs first, so none starves.
 */
export class BatchQueue<T> {
  private readonly groups = new Map<string, Group<T>>();

  get size(): number {
    let size = 0;
    for (const group of this.groups.values()) size += group.items.length;
    return size;
  }

  add(key: string, policy: BatchingSpec, item: T, now: number): void {
    const group = this.groups.get(key) ?? { policy, items: [] };
    group.items.push({ item, readyAt: now });
    this.groups.set(key, group);
  }

  /** The batch to run now, how long until one is due, or undefined when nothing waits. */
  next(now: number): NextBatch<T> | undefined {
    let due: [string, Group<T>] | undefined;
    let waitMs = Infinity;
    for (const entry of this.groups) {
      const { policy, items } = entry[1];
      const oldest = items[0]!.readyAt;
      const left = oldest + policy.maxDelayMs - now;
      if (items.length >= policy.maxBatch || left <= 0) {
        if (!due || oldest < due[1].items[0]!.readyAt) due = entry;
      } else {
        waitMs = Math.min(waitMs, left);
      }
    }
    if (!due) return waitMs === Infinity ? undefined : { waitMs };
    const [key, group] = due;
    const taken = group.items.splice(0, group.policy.maxBatch);
    if (group.items.length === 0) this.groups.delete(key);
    return { key, items: taken.map((t) => t.item) };
  }

  /** Empties the queue (a thread shutting down), returning what was waiting. */
  drain(): T[] {
    const all = [...this.groups.values()].flatMap((group) => group.items.map((t) => t.item));
    this.groups.clear();
    return all;
  }
}
