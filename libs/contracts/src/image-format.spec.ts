import { imageFormatFromSharp } from './image-format';

describe('the accepted format of what sharp read', () => {
  it('calls AVIF by its name, and refuses what we do not accept', () => {
    expect(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif'].map(imageFormatFromSharp)).toEqual([
      'jpeg',
      'png',
      'webp',
      'gif',
      'tiff',
      'avif',
    ]);
    expect([undefined, 'svg', 'avif', 'jp2k'].map(imageFormatFromSharp)).toEqual([undefined, undefined, 'avif', undefined]);
  });
});
