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
      text: { text: `<span foreground="black">${escape(line)}</span>`, font: 'sans', dpi: 150, rgba: true },
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

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
