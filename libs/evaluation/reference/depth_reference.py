#!/usr/bin/env python3
"""One depth sample's metrics by the independent NumPy reference (metrics_reference.depth_metrics).

Usage: depth_reference.py PREDICTION.npy TRUTH.npy VALID.npy|- KIND
  PREDICTION  the job's raw output at the truth's size (float32 .npy)
  TRUTH       metric depth in metres (NaN = none)
  VALID       non-zero where the ground truth is valid, or - for every finite depth > 0
  KIND        relative-inverse (aligned by scale and shift in disparity) or metric
Prints the metrics as JSON.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metrics_reference import depth_metrics  # noqa: E402


def main():
    prediction, truth, valid, kind = sys.argv[1:5]
    pred = np.load(prediction).astype(np.float32)
    gt = np.load(truth).astype(np.float32)
    mask = None if valid == "-" else np.load(valid)
    metrics = depth_metrics(pred, gt, mask, kind, None)
    metrics.pop("pixels", None)
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
