/**
 * The jobs whose end one socket was sent, so that each end reaches it once: the subscribe
 * snapshot and the relayed event can both carry it. Only the latest are kept, because a repeat
 * arrives within moments of the first; a socket that watches jobs for days stays small.
 */
export class SentEnds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity = SENT_ENDS_PER_SOCKET) {}

  /** True the first time a job's end is offered; false for a repeat. */
  firstTime(jobId: string): boolean {
    if (this.ids.has(jobId)) return false;
    this.ids.add(jobId);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value!);
    return true;
  }

  get size(): number {
    return this.ids.size;
  }
}

export const SENT_ENDS_PER_SOCKET = 1_000;
