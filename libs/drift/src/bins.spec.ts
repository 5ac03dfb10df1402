import { commonCategories, nextUp, numericBin, numericBinLabels, quantileEdges } from './bins';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const repeat = (value: number, times: number): number[] => new Array<number>(times).fill(value);

describe('quantileEdges', () => {
  it('puts nine edges at the deciles of distinct values, halfway between neighbours', () => {
    const edges = quantileEdges(range(1, 1000).reverse());
    expect(edges).toEqual([100.5, 200.5, 300.5, 400.5, 500.5, 600.5, 700.5, 800.5, 900.5]);
    expect(numericBinLabels(edges, false)).toEqual([
      '< 100.5',
      '100.5–200.5',
      '200.5–300.5',
      '300.5–400.5',
      '400.5–500.5',
      '500.5–600.5',
      '600.5–700.5',
      '700.5–800.5',
      '800.5–900.5',
      '≥ 900.5',
    ]);
  });

  it('keeps tied values in one bin: a feature 0 in 70 % of rows gets one bin for its zeros', () => {
    const values = [...repeat(0, 700), ...range(1, 300)];
    const edges = quantileEdges(values);
    expect(edges[0]).toBe(0.5);
    expect(edges).toEqual([0.5, 100.5, 200.5]);
    const counts = [0, 0, 0, 0];
    for (const v of values) counts[numericBin(edges, v)]!++;
    expect(counts).toEqual([700, 100, 100, 100]);
  });

  it('bins a discrete feature by its values: 1, 2, 3 in shares 45/10/45 give < 1.5, 1.5–2.5, ≥ 2.5', () => {
    const edges = quantileEdges([...repeat(1, 45), ...repeat(2, 10), ...repeat(3, 45)]);
    expect(edges).toEqual([1.5, 2.5]);
    expect(numericBinLabels(edges, false)).toEqual(['< 1.5', '1.5–2.5', '≥ 2.5']);
  });

  it('merges a value too rare for a bin of its own (under 5 %) into its neighbour', () => {
    // 2 holds 3 %: no bin of its own.
    const edges = quantileEdges([...repeat(1, 50), ...repeat(2, 3), ...repeat(3, 47)]);
    expect(edges).toHaveLength(1);
    expect(numericBin(edges, 1)).toBe(0);
    expect(numericBin(edges, 3)).toBe(1);
  });

  it('singles out a constant feature’s value, so that a move either way still shows', () => {
    const edges = quantileEdges(repeat(224, 300));
    expect(edges).toEqual([224, nextUp(224)]);
    expect(numericBinLabels(edges, false)).toEqual(['< 224', '224', '> 224']);
    expect([numericBin(edges, 100), numericBin(edges, 224), numericBin(edges, 512)]).toEqual([0, 1, 2]);
  });

  it('singles out the value that holds nearly everything when the rest is too rare for a bin', () => {
    const edges = quantileEdges([...repeat(0, 98), 3, 7]);
    expect(numericBinLabels(edges, true)).toEqual(['< 0', '0', '> 0', '(none)']);
  });

  it('labels with as few significant digits as keep the bins apart', () => {
    expect(numericBinLabels([12.5, 40], false)).toEqual(['< 12.5', '12.5–40', '≥ 40']);
    expect(numericBinLabels([0.123456, 0.123457], false)).toEqual(['< 0.123456', '0.123456–0.123457', '≥ 0.123457']);
    expect(numericBinLabels([1234567.5, 2345678.5], false)).toEqual(['< 1235000', '1235000–2346000', '≥ 2346000']);
    expect(numericBinLabels([123.456, 123.46], false)).toEqual(['< 123.456', '123.456–123.46', '≥ 123.46']);
  });
});

describe('commonCategories', () => {
  it('lists values of at least 5 % of the reference, most common first, leaving the rest to "other"', () => {
    const values = [...new Array<string>(60).fill('jpeg'), ...new Array<string>(37).fill('png'), ...new Array<string>(3).fill('webp')];
    expect(commonCategories(values)).toEqual(['jpeg', 'png']);
  });

  it('keeps at most nine, so that with "other" there are ten bins', () => {
    const values = range(0, 11).flatMap((label) => new Array<string>(10).fill(`class-${label}`));
    const categories = commonCategories(values);
    expect(categories).toHaveLength(9);
    // Equal counts: by name.
    expect(categories.slice(0, 3)).toEqual(['class-0', 'class-1', 'class-10']);
  });
});
