import { cropTile, fitToTiles, planTiles, stitchTiles } from './tiles';

const tile = { width: 32, height: 32 };

describe('tiling an image for a model of fixed size', () => {
  it('keeps every pixel from exactly one tile, at least overlap/2 away from an inner tile border', () => {
    for (const image of [
      { width: 100, height: 70 },
      { width: 32, height: 32 },
      { width: 20, height: 90 },
      { width: 33, height: 31 },
    ]) {
      const plan = planTiles(image, tile, { maxTiles: 99, overlap: 8 });
      const owners = new Uint8Array(image.width * image.height);
      for (const t of plan.tiles) {
        for (let y = t.keep.top; y < t.keep.bottom; y++) for (let x = t.keep.left; x < t.keep.right; x++) owners[y * image.width + x]!++;
        // Inner borders only: the image's own border is the model's border too.
        if (t.keep.left > 0) expect(t.keep.left - t.x).toBeGreaterThanOrEqual(4);
        if (t.keep.right < image.width) expect(t.x + tile.width - t.keep.right).toBeGreaterThanOrEqual(4);
        if (t.keep.top > 0) expect(t.keep.top - t.y).toBeGreaterThanOrEqual(4);
        if (t.keep.bottom < image.height) expect(t.y + tile.height - t.keep.bottom).toBeGreaterThanOrEqual(4);
      }
      expect(owners.every((n) => n === 1)).toBe(true);
    }
  });

  it('needs ceil((side − overlap)/(tile − overlap)) tiles a side, the last one ending at the image’s edge', () => {
    const plan = planTiles({ width: 100, height: 70 }, tile, { maxTiles: 99, overlap: 8 });
    // 100: ceil(92/24) = 4 columns; 70: ceil(62/24) = 3 rows.
    expect(plan.tiles).toHaveLength(12);
    expect(plan.tiles.map((t) => t.x).slice(0, 4)).toEqual([0, 23, 45, 68]);
    expect(plan.tiles.map((t) => t.y).filter((_, i) => i % 4 === 0)).toEqual([0, 19, 38]);
  });

  it('shrinks an image that needs more tiles than allowed to the largest size that fits them', () => {
    const tiling = { maxTiles: 4, overlap: 8 };
    expect(fitToTiles({ width: 56, height: 56 }, tile, tiling)).toEqual({ width: 56, height: 56 });
    const shrunk = fitToTiles({ width: 200, height: 100 }, tile, tiling);
    // Splits of 4 tiles: 2 × 2 covers 56 × 56 (scale 56/200); 3 × 1 covers 80 × 32 and 4 × 1 104 × 32 (scale 32/100, the best).
    expect(shrunk).toEqual({ width: 64, height: 32 });
    expect(planTiles(shrunk, tile, tiling).tiles.length).toBeLessThanOrEqual(4);
    const wide = fitToTiles({ width: 1000, height: 10 }, tile, tiling);
    expect(wide).toEqual({ width: 104, height: 1 });
  });

  it('pads a tile that reaches past the image with its edge pixels', () => {
    const rgb = { data: Buffer.from([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]), width: 2, height: 2 };
    const padded = cropTile(rgb, { x: 0, y: 0 }, { width: 3, height: 3 });
    expect(Array.from(padded.data.filter((_, i) => i % 3 === 0))).toEqual([1, 2, 2, 3, 4, 4, 3, 4, 4]);
  });

  it('puts enlarged tiles back where they came from (round trip through a nearest-neighbour ×2 “model”)', () => {
    const image = { width: 75, height: 50 };
    const values = Float32Array.from({ length: image.width * image.height }, (_, i) => i);
    const plan = planTiles(image, tile, { maxTiles: 99, overlap: 6 });
    const scale = 2;
    const side = tile.width * scale;
    const out = new Float32Array(plan.tiles.length * side * side);
    plan.tiles.forEach((t, n) => {
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const sx = Math.min(t.x + Math.floor(x / scale), image.width - 1);
          const sy = Math.min(t.y + Math.floor(y / scale), image.height - 1);
          out[n * side * side + y * side + x] = values[sy * image.width + sx]!;
        }
      }
    });
    const { planes, size } = stitchTiles({ data: out, dims: [plan.tiles.length, 1, side, side], layout: 'NCHW' }, plan, image, scale);
    expect(size).toEqual({ width: 150, height: 100 });
    let wrong = 0;
    for (let y = 0; y < size.height; y++) {
      for (let x = 0; x < size.width; x++) {
        if (planes[0]![y * size.width + x] !== values[Math.floor(y / scale) * image.width + Math.floor(x / scale)]) wrong++;
      }
    }
    expect(wrong).toBe(0);
  });
});
