import { PassThrough } from 'node:stream';
import { progressReporter } from './download-progress';

/** A stand-in for stderr that keeps what was written. */
function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  return { stream: Object.assign(stream, { isTTY, columns: 120 }) as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

const MB = 1024 * 1024;

describe('progressReporter', () => {
  it('writes one plain line per 10% and a closing line when output is not a terminal (CI logs)', async () => {
    const { stream, text } = fakeStream(false);
    const reporter = progressReporter('depth-anything', stream);
    for (let received = 0; received <= 100 * MB; received += MB) reporter.update({ received, total: 100 * MB, resumedFrom: 0 });
    reporter.stop();
    reporter.stop();
    await new Promise<void>((resolve) => setImmediate(resolve));

    const lines = text().trimEnd().split('\n');
    expect(lines.map((line) => /^depth-anything: (\d+%|100\.0\/100\.0 MB)/.exec(line)?.[1])).toEqual([
      '10%',
      '20%',
      '30%',
      '40%',
      '50%',
      '60%',
      '70%',
      '80%',
      '90%',
      '100.0/100.0 MB',
    ]);
  });

  it('says where a resumed download starts, and counts steps from there', async () => {
    const { stream, text } = fakeStream(false);
    const reporter = progressReporter('m', stream);
    for (let received = 45 * MB; received <= 60 * MB; received += MB) reporter.update({ received, total: 100 * MB, resumedFrom: 45 * MB });
    reporter.stop();
    await new Promise<void>((resolve) => setImmediate(resolve));

    const lines = text().trimEnd().split('\n');
    expect(lines).toEqual([
      'm: resuming at 45.0 MB',
      expect.stringMatching(/^m: 50% \(50\.0\/100\.0 MB\), [\d.]+ MB\/s$/),
      expect.stringMatching(/^m: 60% \(60\.0\/100\.0 MB\), [\d.]+ MB\/s$/),
      expect.stringMatching(/^m: 60\.0\/100\.0 MB at [\d.]+ MB\/s$/),
    ]);
  });

  it('draws a bar with sizes in MB on a terminal', async () => {
    const { stream, text } = fakeStream(true);
    const reporter = progressReporter('depth-anything', stream);
    reporter.update({ received: 0, total: 50 * MB, resumedFrom: 0 });
    reporter.update({ received: 50 * MB, total: 50 * MB, resumedFrom: 0 });
    reporter.stop();
    await new Promise<void>((resolve) => setImmediate(resolve));

    expect(text()).toContain('depth-anything [');
    expect(text()).toContain('50.0/50.0 MB');
  });
});
