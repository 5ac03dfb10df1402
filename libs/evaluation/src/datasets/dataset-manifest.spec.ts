import { DatasetError } from './dataset-error';
import { parseDatasetManifest } from './dataset-manifest';

function problemsOf(text: string, file = 'dataset.yaml'): string[] {
  try {
    parseDatasetManifest(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(DatasetError);
    return (error as DatasetError).problems.map((p) => p.message);
  }
  throw new Error('the manifest was accepted');
}

const depthHeader = 'name: room-depth\nversion: 1\ntask: depth\nlicence: CC0-1.0\n';

describe('dataset.yaml', () => {
  it('reads a depth dataset: version as a string, scale by default, ids from the image paths', () => {
    const manifest = parseDatasetManifest(
      `${depthHeader}depth:\n  range: { min: 0.5, max: 10 }\nsamples:\n  - { image: ./images/a.png, depth: depth/a.npy, mask: masks/a.png }\n  - { id: b, image: images/b.jpg, depth: depth/b.png }\n`,
      'dataset.yaml',
    );
    expect(manifest.version).toBe('1');
    expect(manifest.depth).toEqual({ range: { min: 0.5, max: 10 }, scale: 0.001 });
    expect(manifest.samples).toEqual([
      { image: 'images/a.png', depth: 'depth/a.npy', mask: 'masks/a.png' },
      { id: 'b', image: 'images/b.jpg', depth: 'depth/b.png' },
    ]);
  });

  it('reads dataset.json too', () => {
    const manifest = parseDatasetManifest(
      JSON.stringify({
        name: 'lines',
        version: '2',
        task: 'text-detection',
        licence: 'MIT',
        samples: [
          {
            image: 'a.png',
            polygons: [
              [
                [0, 0],
                [4, 0],
                [4, 2],
              ],
            ],
          },
        ],
      }),
      'dataset.json',
    );
    expect(manifest.samples?.[0]?.polygons).toEqual([
      [
        [0, 0],
        [4, 0],
        [4, 2],
      ],
    ]);
  });

  it('names the file and the field of every problem', () => {
    const problems = problemsOf(
      'name: Room Depth\nversion: 1\ntask: depth\nsamples:\n  - { image: a.png, depth: a.tiff }\n  - { image: b.png, classes: b.png }\n',
    );
    expect(problems).toEqual([
      'dataset.yaml: name: lowercase letters, digits, ".", "_" and "-"',
      'dataset.yaml: licence: say under which licence the images and their ground truth may be used (e.g. "CC0-1.0")',
      'dataset.yaml: samples[0].depth: a depth map must be .png or .npy',
    ]);
    // What depends on the task (a sample's fields) is checked once every field reads.
    expect(problemsOf(`${depthHeader}samples:\n  - { image: a.png, depth: a.png }\n  - { image: b.png, classes: b.png }\n`)).toEqual([
      'dataset.yaml: samples[1].depth: missing: a depth sample needs depth',
      'dataset.yaml: samples[1].classes: not a depth field (a depth sample has depth, mask)',
    ]);
  });

  it('keeps every path inside the dataset folder', () => {
    const problems = problemsOf(
      `${depthHeader}samples:\n  - { image: ../other/a.png, depth: a.npy }\n  - { image: /etc/passwd, depth: b.npy }\n  - { image: 'c\\d.png', depth: images/../../c.npy }\n`,
    );
    expect(problems).toEqual([
      `dataset.yaml: samples[0].image: "../other/a.png" leaves the dataset's folder (".."): keep every file inside it`,
      'dataset.yaml: samples[1].image: "/etc/passwd" is absolute: write it relative to the manifest',
      'dataset.yaml: samples[2].image: "c\\d.png" uses "\\": separate folders with "/"',
      `dataset.yaml: samples[2].depth: "images/../../c.npy" leaves the dataset's folder (".."): keep every file inside it`,
    ]);
  });

  it('refuses two samples with one id (an image listed twice)', () => {
    expect(problemsOf(`${depthHeader}samples:\n  - { image: a.png, depth: a.npy }\n  - { image: a.jpg, depth: b.npy }\n`)).toEqual([
      `dataset.yaml: samples[1].id: "a" is samples[0]'s id too: ids are unique`,
    ]);
  });

  it('checks classification labels against the declared ones, and segmentation needs its classes', () => {
    expect(
      problemsOf(
        'name: c\nversion: 1\ntask: classification\nlicence: CC0-1.0\nclassification: { labels: [0, 180] }\nsamples:\n  - { image: a.png, label: 90 }\n',
      ),
    ).toEqual(['dataset.yaml: samples[0].label: "90" is not one of classification.labels (0, 180)']);
    expect(
      problemsOf('name: s\nversion: 1\ntask: segmentation\nlicence: CC0-1.0\nsamples:\n  - { image: a.png, classes: a.png }\n'),
    ).toEqual(['dataset.yaml: segmentation: a segmentation dataset names its classes: segmentation: { labels: [background, …] }']);
    expect(
      problemsOf(
        'name: s\nversion: 1\ntask: segmentation\nlicence: x\nsegmentation: { labels: [bg, cat], ignoreIndex: 1 }\nsamples: [{ image: a.png, classes: a.png }]\n',
      ),
    ).toEqual(['dataset.yaml: segmentation.ignoreIndex: 1 is a class (cat): the ignore index is outside 0..1']);
  });

  it('says where YAML itself is broken', () => {
    expect(problemsOf('name: [unclosed\n')).toEqual([expect.stringMatching(/^dataset\.yaml: not valid YAML \(/)]);
  });
});
