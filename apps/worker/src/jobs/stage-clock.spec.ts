import { StageClock } from './stage-clock';

describe('StageClock', () => {
  it('times each thread stage from the stamps it is given, leaving out the wait for a batch and the main-thread stages', () => {
    const clock = new StageClock();
    clock.enter('fetch', 0);
    clock.enter('decode', 5);
    clock.enter('preprocess', 15);
    clock.pause(18); // waiting for a batch
    clock.enter('inference', 40);
    clock.enter('postprocess', 140);
    clock.enter('encode', 146);
    clock.pause(153); // done
    clock.enter('store', 160);
    clock.pause(170);
    expect(clock.timings).toEqual({ decode: 10, preprocess: 3, inference: 100, postprocess: 6, encode: 7 });
  });

  it('adds up a stage entered twice, and ignores a pause with no stage running', () => {
    const clock = new StageClock();
    clock.pause(1);
    clock.enter('inference', 10);
    clock.pause(20);
    clock.pause(25);
    clock.enter('inference', 30);
    clock.pause(35);
    expect(clock.timings.inference).toBe(15);
  });
});
