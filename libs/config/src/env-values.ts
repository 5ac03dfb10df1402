import { z } from 'zod';

/** Empty strings in the environment mean "not set". */
export const unsetIfEmpty = (value: unknown) => (value === '' ? undefined : value);

export const envInt = (defaultValue: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) =>
  z.preprocess(unsetIfEmpty, z.coerce.number().int().min(min).max(max).default(defaultValue));

/** An integer with no default: undefined when unset. */
export const envOptionalInt = ({ min = 0, max = Number.MAX_SAFE_INTEGER } = {}) =>
  z.preprocess(unsetIfEmpty, z.coerce.number().int().min(min).max(max).optional());

export const envString = (defaultValue: string) => z.preprocess(unsetIfEmpty, z.string().default(defaultValue));

export const envOptionalString = () => z.preprocess(unsetIfEmpty, z.string().optional());

export const envBool = (defaultValue: boolean) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(defaultValue ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  );

/** Comma-separated values, trimmed, empty items dropped; undefined when unset. */
export const envList = () =>
  z.preprocess(unsetIfEmpty, z.string().optional()).transform((v) =>
    v
      ? v
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean)
      : undefined,
  );

/** Comma-separated items, trimmed, empty ones dropped, each checked by `item`; [] when unset. */
export const envItems = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (v) =>
      v === '' || v === undefined
        ? []
        : typeof v === 'string'
          ? v
              .split(',')
              .map((part) => part.trim())
              .filter(Boolean)
          : v,
    z.array(item),
  );
