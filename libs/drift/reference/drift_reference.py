#!/usr/bin/env python3
"""Independent reference computation of libs/drift's numeric feature drift (issue 15).

Written from docs/drift.md's definitions with NumPy, not from the TypeScript, so that
libs/drift/src/drift-reference.spec.ts can check the two agree:

- edges: distinct-value boundaries of the sorted reference (np.unique), the one nearest each
  decile target k·m/B (the lower on a tie), a boundary kept only when the bin it closes and the
  rest each hold at least ceil(0.05·m) values, the edge halfway between the values either side;
  with none kept, the most common value c and the float above it (np.nextafter);
- bins: np.searchsorted(edges, x, side='right'), nulls (NaN here) in a last bin when nullable;
- PSI with shares smoothed as (p + 1e-4) / (1 + B·1e-4); noise (B_occupied − 1)(1/n + 1/m);
  drift max(0, psi − noise).

Usage: drift_reference.py CASES_JSON  (prints JSON on stdout).
"""
import json
import math
import sys

import numpy as np

EPS = 1e-4
MIN_BIN_SHARE = 0.05


def edges_of(values, max_bins):
    v = np.sort(np.asarray(values, dtype=np.float64))
    m = v.size
    if m == 0:
        return []
    boundaries = np.nonzero(v[1:] > v[:-1])[0] + 1
    min_count = max(1, math.ceil(MIN_BIN_SHARE * m))
    chosen = set()
    if boundaries.size:
        for k in range(1, max_bins):
            target = k * m / max_bins
            distance = np.abs(boundaries - target)
            chosen.add(int(boundaries[np.flatnonzero(distance == distance.min())[0]]))
    edges, last = [], 0
    for p in sorted(chosen):
        if p - last < min_count or m - p < min_count:
            continue
        below, above = v[p - 1], v[p]
        middle = below + (above - below) / 2
        edges.append(float(middle if middle > below else above))
        last = p
    if edges:
        return edges
    values_, counts = np.unique(v, return_counts=True)
    c = float(values_[np.argmax(counts)])
    return [c, float(np.nextafter(c, np.inf))]


def shares_of(values, edges, nullable):
    x = np.asarray(values, dtype=np.float64)
    nulls = np.isnan(x)
    bins = np.searchsorted(np.asarray(edges, dtype=np.float64), x[~nulls], side='right')
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(np.float64)
    if nullable:
        counts = np.append(counts, nulls.sum())
    return counts / x.size


def psi(e, a):
    b = e.size
    e = (e + EPS) / (1 + b * EPS)
    a = (a + EPS) / (1 + b * EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    out = []
    for case in cases:
        nullable = case['nullable']
        reference = [math.nan if v is None else v for v in case['reference']]
        production = [math.nan if v is None else v for v in case['production']]
        numbers = [v for v in reference if not math.isnan(v)]
        edges = edges_of(numbers, 10 - (1 if nullable else 0))
        e = shares_of(reference, edges, nullable)
        a = shares_of(production, edges, nullable)
        value = psi(e, a)
        noise = (np.count_nonzero(e) - 1) * (1 / len(production) + 1 / len(reference))
        out.append({'edges': edges, 'reference': e.tolist(), 'production': a.tolist(), 'psi': value, 'noise': noise, 'drift': max(0.0, value - noise)})
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
