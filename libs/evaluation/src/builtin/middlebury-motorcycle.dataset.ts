import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeDatasetFile, writeManifest, type BuiltinDataset, type BuiltinDatasetOptions } from './builtin-dataset';

const FOLDER = ['fixtures', 'depth', 'middlebury2014_motorcycle'];
const FILES = { 'image.png': 'rgb.png', 'depth.npy': 'depth_m.npy', 'mask.png': 'valid_mask.png' } as const;

function fixtureDir(opts: BuiltinDatasetOptions): string | undefined {
  return opts.sharedDir ? join(opts.sharedDir, ...FOLDER) : undefined;
}

/**
 * One scene with metric ground truth: Middlebury 2014 "Motorcycle" (left view, 741×500), depth in
 * metres from the ground-truth disparity (f·B/(d+doffs)), 92.7 % of pixels valid, 2.11–5.02 m.
 * Made from ../shared/fixtures/depth/middlebury2014_motorcycle (see ../MANIFEST.md there).
 */
export const middleburyMotorcycle: BuiltinDataset = {
  name: 'middlebury-motorcycle',
  version: '1',
  task: 'depth',
  description:
    'Middlebury 2014 stereo, scene "Motorcycle" (downsampled ×4 by scikit-image): the left image, metric depth in metres ' +
    'derived from the ground-truth disparity (f=994.978 px, B=0.193001 m, doffs=31.086 px) and its validity mask (92.7 % valid, 2.11–5.02 m).',
  // As ../shared/fixtures/depth/MANIFEST.md states it, FLAG included: not for publishing.
  licence: 'Middlebury 2014 data via scikit-image (BSD-3 repo); Middlebury gives no explicit licence, research use customary - FLAG',
  unavailable(opts) {
    const dir = fixtureDir(opts);
    if (!dir) return 'needs the shared fixtures folder (../shared): none was given';
    const missing = Object.values(FILES).filter((f) => !existsSync(join(dir, f)));
    return missing.length ? `needs ${missing.map((f) => join(dir, f)).join(', ')}, which is absent` : undefined;
  },
  async build(destDir, opts) {
    const reason = this.unavailable(opts);
    if (reason) return { built: false, reason };
    const dir = fixtureDir(opts)!;
    for (const [to, from] of Object.entries(FILES)) await writeDatasetFile(destDir, to, await readFile(join(dir, from)));
    await writeManifest(destDir, this, {
      source:
        'https://vision.middlebury.edu/stereo/data/scenes2014/ (Scharstein et al., GCPR 2014) via github.com/scikit-image/scikit-image ' +
        'src/_skimage2/data/motorcycle_{left.png,disp.npz} @ cd0a3d22b9f359f05618d75d5c7a29b91b4951ca',
      samples: [{ id: 'motorcycle', image: 'image.png', depth: 'depth.npy', mask: 'mask.png' }],
    });
    return { built: true, samples: 1 };
  },
};
