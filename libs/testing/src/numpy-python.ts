import { spawnSync } from 'node:child_process';

/**
 * A Python with NumPy for the metrics' independent reference computations (libs/evaluation/reference):
 * `python3` on the PATH, else Debian's /usr/bin/python3 (.ci/run installs python3-numpy when neither
 * has it). Throws, saying what to install, when there is none: a cross-check that cannot run fails.
 */
export function numpyPython(): string {
  const found = ['python3', '/usr/bin/python3'].find(
    (python) => spawnSync(python, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0,
  );
  if (!found) {
    throw new Error(
      'No python3 with numpy (tried `python3` and `/usr/bin/python3`): install it with `sudo apt-get install python3-numpy` (.ci/run does) to cross-check the metrics',
    );
  }
  return found;
}
