import { SentEnds } from './sent-ends';

describe('the job ends a socket was sent', () => {
  it('lets each end through once', () => {
    const sent = new SentEnds();
    expect([sent.firstTime('a'), sent.firstTime('b'), sent.firstTime('a')]).toEqual([true, true, false]);
  });

  it('keeps only the latest, so a socket that watches many jobs does not grow', () => {
    const sent = new SentEnds(3);
    for (const id of ['a', 'b', 'c', 'd', 'e']) sent.firstTime(id);
    expect(sent.size).toBe(3);
    expect(sent.firstTime('e')).toBe(false); // recent: still a repeat
    expect(sent.firstTime('a')).toBe(true); // long gone from memory
  });
});
