import sharp from 'sharp';
import { encodeNpy } from './npy';
import { PredictionError, readPrediction } from './prediction-readers';

const json = (value: unknown) => ({ bytes: Buffer.from(JSON.stringify(value)), contentType: 'application/json' });
const png = (bytes: Buffer) => ({ bytes, contentType: 'image/png' });

describe('reading a job’s prediction from its artifacts', () => {
  it('depth: the raw float32 map', async () => {
    const values = Float32Array.from([0.5, 1, 1.5, 2, 2.5, 3]);
    const prediction = await readPrediction('depth', {
      raw: { bytes: encodeNpy(values, [2, 3]), contentType: 'application/octet-stream' },
    });
    expect([prediction.width, prediction.height, Array.from(prediction.values)]).toEqual([3, 2, [0.5, 1, 1.5, 2, 2.5, 3]]);
  });

  it('segmentation: the class-index mask as the worker writes it (8-bit grey PNG)', async () => {
    const mask = await sharp(Buffer.from([0, 8, 8, 15, 0, 20]), { raw: { width: 3, height: 2, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    const prediction = await readPrediction('segmentation', { mask: png(mask), overlay: png(mask) });
    expect([prediction.width, prediction.height, Array.from(prediction.classes)]).toEqual([3, 2, [0, 8, 8, 15, 0, 20]]);
  });

  it('classification: the top labels', async () => {
    const top = [
      { index: 1, label: '180', probability: 0.9 },
      { index: 0, label: '0', probability: 0.1 },
    ];
    expect(await readPrediction('classification', { labels: json({ top }) })).toEqual({ top });
  });

  it('text detection: the boxes’ points', async () => {
    const boxes = json({
      width: 64,
      height: 32,
      boxes: [
        {
          points: [
            [1, 2],
            [30, 2],
            [30, 12.5],
            [1, 12.5],
          ],
          score: 0.91,
        },
      ],
    });
    expect(await readPrediction('text-detection', { boxes })).toEqual({
      polygons: [
        [
          [1, 2],
          [30, 2],
          [30, 12.5],
          [1, 12.5],
        ],
      ],
    });
  });

  it('image-to-image: RGB or grey pixels', async () => {
    const colour = await sharp({ create: { width: 2, height: 1, channels: 3, background: '#ff8000' } })
      .png()
      .toBuffer();
    expect(await readPrediction('image-to-image', { image: png(colour) })).toEqual({
      width: 2,
      height: 1,
      channels: 3,
      pixels: new Uint8Array([255, 128, 0, 255, 128, 0]),
    });
    const grey = await sharp(Buffer.from([7, 200]), { raw: { width: 2, height: 1, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect(await readPrediction('image-to-image', { image: png(grey) })).toEqual({
      width: 2,
      height: 1,
      channels: 1,
      pixels: new Uint8Array([7, 200]),
    });
  });

  it('says which artifact is missing or malformed', async () => {
    await expect(readPrediction('depth', { depth: png(Buffer.from('x')) })).rejects.toThrow(
      new PredictionError('raw', 'missing (the job wrote depth)'),
    );
    await expect(readPrediction('classification', { labels: json({ best: 'cat' }) })).rejects.toThrow(/^artifact labels: /);
  });
});
