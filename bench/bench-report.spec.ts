import { cell, resultsMarkdown } from './bench-report';

describe('the benchmark table', () => {
  it('writes nested figures out instead of [object Object]', () => {
    expect(cell({ sent: 464, timedOutBySendTime: { first10s: 0, last10s: 12 } })).toBe(
      'sent 464, timedOutBySendTime (first10s 0, last10s 12)',
    );
    expect(cell(7.75)).toBe('7.75');
  });

  it('puts the machine, the command and each figure with its target in the page', () => {
    const markdown = resultsMarkdown({
      machine: { date: '2026-12-06T10:00:00.000Z', cpu: 'AMD EPYC', cores: 2, node: 'v20.20.2' },
      command: 'npm run bench',
      quick: false,
      scenarios: [
        {
          scenario: 'ceiling',
          model: 'm@1',
          command: 'npm run bench',
          setup: {},
          figures: { imagesPerSecond: 7 },
          targets: [{ figure: 'imagesPerSecond', target: '≥ 5', value: 7, met: true }],
        },
      ],
    });
    expect(markdown).toContain('Measured 2026-12-06 with `npm run bench` on AMD EPYC, 2 cores, Node v20.20.2.');
    expect(markdown).toContain('| ceiling | m@1 | imagesPerSecond | 7 | ≥ 5 — met |');
  });
});
