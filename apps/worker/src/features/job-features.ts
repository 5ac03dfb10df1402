import type { z } from 'zod';
import { inputFeaturesSchema, outputFeaturesSchema, type InputFeatures, type OutputFeatures } from '@fathom/contracts';
import type { UploadHeader } from '../imaging/image-decoder';
import type { Size } from '../imaging/resize-plan';
import { inputFeatures, type RgbPixels } from './input-features';

/**
 * A job's input features (issue 15) from the pixels its model sees and what the decoder read, or
 * undefined when they cannot be computed: an upload whose format the contract does not name (sharp
 * decodes more than Fathom accepts), a computation that throws, a value outside the contract.
 */
export function jobInputFeatures(
  source: { pixels: RgbPixels; header: UploadHeader },
  upload: { bytes: number; displayed: Size },
): InputFeatures | undefined {
  return featureOrNothing(inputFeaturesSchema, () => {
    const { format, orientation } = source.header;
    if (!format) throw new Error('the upload is in a format the prediction log does not name');
    return inputFeatures(source.pixels, { bytes: upload.bytes, format, orientation, ...upload.displayed });
  });
}

/** A job's output features from its task's computation, or undefined when it throws or breaks the contract (NaN, say). */
export function jobOutputFeatures(compute: () => OutputFeatures): OutputFeatures | undefined {
  return featureOrNothing(outputFeaturesSchema, compute);
}

/**
 * Features are a record of the job, not its result: one that cannot be computed leaves the
 * prediction log without it (RunOutput.features) and must never fail the job or its thread. Checked
 * against the contract here, so that what the log is handed always parses.
 */
function featureOrNothing<S extends z.ZodType>(schema: S, compute: () => unknown): z.output<S> | undefined {
  try {
    const parsed = schema.safeParse(compute());
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
