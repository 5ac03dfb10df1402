import { ErrorCode, FathomError } from '@fathom/contracts';

/**
 * One thing wrong with a dataset: the file it is in (`dataset.yaml`, an archive entry, a sample's
 * truth file) and the manifest field that leads there (`samples[2].depth`), both in the message.
 */
export class DatasetError extends FathomError {
  /** Every problem this error stands for: itself, or those `combine` gathered. */
  readonly problems: readonly DatasetError[];

  constructor(
    readonly file: string,
    readonly field: string | undefined,
    problem: string,
    opts: { code?: ErrorCode; problems?: readonly DatasetError[]; truncated?: boolean } = {},
  ) {
    const problems = opts.problems;
    const message = problems
      ? `${problems.length} problems: ${problems.map((p) => p.message).join('; ')}${opts.truncated ? '; and more (checking stopped there)' : ''}`
      : `${file}: ${field ? `${field}: ` : ''}${problem}`;
    super(opts.code ?? ErrorCode.InvalidDataset, message, {
      file,
      field,
      ...(problems
        ? { problems: problems.map((p) => ({ file: p.file, field: p.field, message: p.message })), truncated: !!opts.truncated }
        : {}),
    });
    this.name = 'DatasetError';
    this.problems = problems ?? [this];
  }

  /** Several problems as one error (what the API answers): the first's file and field, every message in details. */
  static combine(problems: readonly DatasetError[], truncated = false): DatasetError {
    const [first] = problems;
    if (!first) throw new Error('DatasetError.combine needs at least one problem');
    if (problems.length === 1 && !truncated) return first;
    return new DatasetError(first.file, first.field, '', { code: first.code, problems, truncated });
  }
}

/** `samples[2].depth` from zod's path `['samples', 2, 'depth']`. */
export function fieldOf(path: readonly PropertyKey[]): string {
  let field = '';
  for (const part of path) field += typeof part === 'number' ? `[${part}]` : `${field ? '.' : ''}${String(part)}`;
  return field;
}
