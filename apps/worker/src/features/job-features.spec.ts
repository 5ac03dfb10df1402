import { jobInputFeatures, jobOutputFeatures } from './job-features';
import { classificationOutputFeatures, depthOutputFeatures } from './output-features';

describe('a job’s features never fail the job', () => {
  const grey = { data: new Uint8Array(4 * 4 * 3).fill(128), width: 4, height: 4 };
  const upload = { bytes: 1234, displayed: { width: 8, height: 8 } };

  it('gives the input’s features with the upload’s facts', () => {
    expect(jobInputFeatures({ pixels: grey, header: { format: 'webp', orientation: 3 } }, upload)).toMatchObject({
      bytes: 1234,
      format: 'webp',
      width: 8,
      height: 8,
      orientation: 3,
      meanLuma: 128,
      contrast: 0,
    });
  });

  it('leaves the input out when its format has no name in the log, or its pixels are not what they say', () => {
    expect(jobInputFeatures({ pixels: grey, header: { format: undefined, orientation: 1 } }, upload)).toBeUndefined();
    const short = { ...grey, data: grey.data.subarray(0, 10) };
    expect(jobInputFeatures({ pixels: short, header: { format: 'png', orientation: 1 } }, upload)).toBeUndefined();
  });

  it('leaves the output out when its computation throws or breaks the contract (a NaN from the model)', () => {
    expect(jobOutputFeatures(() => depthOutputFeatures(Float32Array.of(1, 2, 3)))).toMatchObject({ task: 'depth', min: 1, max: 3 });
    expect(jobOutputFeatures(() => classificationOutputFeatures([], undefined))).toBeUndefined();
    expect(jobOutputFeatures(() => classificationOutputFeatures([Number.NaN, 0.5], ['a', 'b']))).toBeUndefined();
  });
});
