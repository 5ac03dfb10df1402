import sharp, { type OverlayOptions } from 'sharp';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Black text on white, rendered by sharp (Pango + fontconfig), one line under the other; returns
 * where each line landed so a test can compare a detector's output on and off the text.
 */
export async function renderTextImage(opts: {
  width: number;
  height: number;
  lines: string[];
}): Promise<{ png: Buffer; textBoxes: Box[] }> {
  const margin = 32;
  const lineHeight = Math.floor((opts.height - 2 * margin) / opts.lines.length);
  const overlays: OverlayOptions[] = [];
  const textBoxes: Box[] = [];
  for (const [index, line] of opts.lines.entries()) {
    const { data, info } = await sharp({
      text: { text: `<span foreground="black">${escapeMarkup(line)}</span>`, font: 'sans', dpi: 150, rgba: true },
    })
      .png()
      .toBuffer({ resolveWithObject: true });
    const scale = Math.min(1, (opts.width - 2 * margin) / info.width, (lineHeight * 0.8) / info.height);
    const width = Math.max(1, Math.floor(info.width * scale));
    const height = Math.max(1, Math.floor(info.height * scale));
    const input = scale < 1 ? await sharp(data).resize(width, height).png().toBuffer() : data;
    const left = margin;
    const top = margin + index * lineHeight + Math.floor((lineHeight - height) / 2);
    overlays.push({ input, left, top });
    textBoxes.push({ x: left, y: top, width, height });
  }
  const png = await sharp({ create: { width: opts.width, height: opts.height, channels: 3, background: '#ffffff' } })
    .composite(overlays)
    .png()
    .toBuffer();
  return { png, textBoxes };
}

/** One line of text as RGBA pixels, with the box its ink covers (alpha ≥ inkAlpha), not the font's line box. */
export interface RenderedLine {
  rgba: Buffer;
  width: number;
  height: number;
  ink: Box;
}

/** Renders `text` at about `sizePx` pixels (Pango points at 72 dpi) in `colour` on transparent. */
export async function renderTextLine(
  text: string,
  opts: { sizePx: number; colour: string; font?: string; inkAlpha?: number },
): Promise<RenderedLine> {
  const { data, info } = await sharp({
    text: {
      text: `<span foreground="${opts.colour}">${escapeMarkup(text)}</span>`,
      font: `${opts.font ?? 'sans'} ${opts.sizePx}`,
      dpi: 72,
      rgba: true,
    },
  })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const threshold = opts.inkAlpha ?? 64;
  let x0 = info.width;
  let y0 = info.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      if (data[(y * info.width + x) * 4 + 3]! < threshold) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < 0) throw new Error(`"${text}" rendered no ink`);
  return { rgba: data, width: info.width, height: info.height, ink: { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 } };
}

export function escapeMarkup(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
