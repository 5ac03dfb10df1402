import { Presets, SingleBar } from 'cli-progress';
import type { DownloadProgress } from './weights-download';

export interface ProgressReporter {
  update(progress: DownloadProgress): void;
  /** Ends the bar (or writes the closing line); safe to call twice. */
  stop(): void;
}

const MB = 1024 * 1024;
/** Without a known total, a plain line every this many bytes. */
const PLAIN_STEP_BYTES = 10 * MB;

/** Shows a download's progress: a live bar on a terminal, a few plain lines where output is a log. */
export function progressReporter(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  return stream.isTTY ? barReporter(label, stream) : lineReporter(label, stream);
}

/** Bytes received in this run per second; the resumed prefix is not speed. */
function speedMeter(): (p: DownloadProgress) => number {
  const startedAt = Date.now();
  return (p) => {
    const seconds = (Date.now() - startedAt) / 1000;
    return seconds > 0 ? (p.received - p.resumedFrom) / seconds : 0;
  };
}

const mb = (bytes: number): string => (bytes / MB).toFixed(1);

function barReporter(label: string, stream: NodeJS.WriteStream): ProgressReporter {
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {receivedMb}/{totalMb} MB | {speedMb} MB/s | ETA {eta_formatted}`,
      stream,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  const speed = speedMeter();
  let started = false;
  let stopped = false;
  return {
    update(p) {
      if (stopped) return;
      // An unknown total grows with what arrived, so the bar stays meaningful and ETA reads 0.
      const total = Math.max(p.total ?? p.received, 1);
      const payload = { receivedMb: mb(p.received), totalMb: p.total === null ? '?' : mb(p.total), speedMb: mb(speed(p)) };
      if (!started) {
        bar.start(total, p.received, payload);
        started = true;
        return;
      }
      bar.setTotal(total);
      bar.update(p.received, payload);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (started) bar.stop();
    },
  };
}

function lineReporter(label: string, stream: NodeJS.WriteStream): ProgressReporter {
  const speed = speedMeter();
  let last: DownloadProgress | null = null;
  let lastStep = -1;
  let stopped = false;
  const write = (line: string): void => void stream.write(`${label}: ${line}\n`);
  return {
    update(p) {
      if (stopped) return;
      if (last === null && p.resumedFrom > 0) write(`resuming at ${mb(p.resumedFrom)} MB`);
      last = p;
      // Steps of 10% (of PLAIN_STEP_BYTES without a total); 100% is left to the closing line.
      const total = p.total !== null && p.total > 0 ? p.total : null;
      const step = total ? Math.floor((p.received / total) * 10) : Math.floor(p.received / PLAIN_STEP_BYTES);
      if (lastStep === -1) {
        lastStep = step;
        return;
      }
      if (step <= lastStep || (total && step >= 10)) return;
      lastStep = step;
      const amount = total ? `${step * 10}% (${mb(p.received)}/${mb(total)} MB)` : `${mb(p.received)} MB`;
      write(`${amount}, ${mb(speed(p))} MB/s`);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (last === null) return;
      const amount = last.total ? `${mb(last.received)}/${mb(last.total)} MB` : `${mb(last.received)} MB`;
      write(`${amount} at ${mb(speed(last))} MB/s`);
    },
  };
}
