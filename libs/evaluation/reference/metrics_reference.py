#!/usr/bin/env python3
"""Independent reference computation of Fathom's evaluation metrics (issue 14).

Written from the metrics' published definitions, not from libs/evaluation's TypeScript, so that
libs/evaluation/src/metrics/reference.spec.ts can check the two agree to 1e-6:

- depth: Depth Anything V2's metric_depth/util/metric.py (eval_depth), with MiDaS-style
  least-squares scale-and-shift alignment in disparity space (np.linalg.lstsq) for
  relative-inverse outputs;
- segmentation: a confusion matrix by np.bincount, IoU = sum I / sum U over the dataset;
- classification: top-1/top-5, per-class precision/recall with scikit-learn's zero_division=0;
- text detection: IoU of convex polygons as the hull of the vertices inside the other polygon
  and the edge crossings (pure Python, a different algorithm from Sutherland-Hodgman),
  highest-IoU-first one-to-one matching at 0.5, ICDAR 2015's 0/0 rules;
- PSNR (8-bit, capped at 100 dB) and SSIM (Wang et al. 2004 with scikit-image's Gaussian
  convention) by a direct 2-D windowed sum with numpy; when scipy or scikit-image are importable
  their results are reported too, as a check on the convention.

Usage: metrics_reference.py CASES_DIR  (reads CASES_DIR/cases.json, prints JSON on stdout).
"""
import json
import math
import os
import sys

import numpy as np

# ---------------------------------------------------------------- depth


def depth_metrics(pred, gt, valid, kind, rng):
    mask = np.isfinite(gt) & (gt > 0)
    if valid is not None:
        mask &= valid != 0
    if rng is not None:
        mask &= (gt >= rng["min"]) & (gt <= rng["max"])
    mask &= np.isfinite(pred)
    g = gt[mask].astype(np.float64)
    x = pred[mask].astype(np.float64)
    if kind == "relative-inverse":
        target = 1.0 / g
        if x.var() <= 1e-12 * x.mean() ** 2:
            s, t = 0.0, target.mean()
        else:
            a = np.stack([x, np.ones_like(x)], axis=1)
            (s, t), *_ = np.linalg.lstsq(a, target, rcond=None)
        cap = rng["max"] if rng is not None else g.max()
        p = 1.0 / np.maximum(s * x + t, 1.0 / cap)
    else:
        p = np.maximum(x, 1e-3)
    thresh = np.maximum(g / p, p / g)
    diff = p - g
    diff_log = np.log(p) - np.log(g)
    return {
        "pixels": int(mask.sum()),
        "absRel": float(np.mean(np.abs(diff) / g)),
        "sqRel": float(np.mean(diff**2 / g)),
        "rmse": float(np.sqrt(np.mean(diff**2))),
        "rmseLog": float(np.sqrt(np.mean(diff_log**2))),
        "log10": float(np.mean(np.abs(np.log10(p) - np.log10(g)))),
        "silog": float(np.sqrt(np.mean(diff_log**2) - 0.5 * np.mean(diff_log) ** 2)),
        "delta1": float(np.mean(thresh < 1.25)),
        "delta2": float(np.mean(thresh < 1.25**2)),
        "delta3": float(np.mean(thresh < 1.25**3)),
    }


def depth(cases, load):
    samples = []
    for case in cases:
        valid = load(case["valid"]) if case.get("valid") else None
        samples.append(depth_metrics(load(case["prediction"]), load(case["truth"]), valid, case["depthOutput"], case.get("depthRange")))
    names = ["absRel", "sqRel", "rmse", "rmseLog", "log10", "silog", "delta1", "delta2", "delta3"]
    aggregate = {n: float(np.mean([s[n] for s in samples])) for n in names}
    return {"samples": samples, "aggregate": aggregate}


# ---------------------------------------------------------------- segmentation


def segmentation(spec, load):
    k = spec["numClasses"]
    ignore = spec["ignoreIndex"]
    total_conf = np.zeros((k, k + 1), dtype=np.int64)
    samples = []

    def iou_of(conf):
        inter = np.diag(conf[:, :k]).astype(np.float64)
        union = conf.sum(axis=1) + conf[:, :k].sum(axis=0) - inter
        iou = [float(i / u) if u > 0 else None for i, u in zip(inter, union)]
        present = [v for v in iou if v is not None]
        return iou, float(np.mean(present))

    for case in spec["samples"]:
        truth = load(case["truth"]).astype(np.int64).ravel()
        pred = load(case["prediction"]).astype(np.int64).ravel()
        keep = truth != ignore if ignore is not None else np.ones_like(truth, dtype=bool)
        t = truth[keep]
        # Column k collects every predicted class >= k: wrong, and no class's union.
        p = np.minimum(pred[keep], k)
        conf = np.bincount(t * (k + 1) + p, minlength=k * (k + 1)).reshape(k, k + 1)
        total_conf += conf
        _, miou = iou_of(conf)
        samples.append({"mIoU": miou, "pixelAccuracy": float(np.trace(conf[:, :k]) / conf.sum())})
    iou, miou = iou_of(total_conf)
    return {
        "samples": samples,
        "aggregate": {"mIoU": miou, "pixelAccuracy": float(np.trace(total_conf[:, :k]) / total_conf.sum())},
        "iou": iou,
    }


# ---------------------------------------------------------------- classification


def classification(cases):
    n = len(cases)
    top1 = sum(1 for c in cases if c["top"][0] == c["truth"]) / n
    top5 = sum(1 for c in cases if c["truth"] in c["top"][:5]) / n
    labels = sorted({c["truth"] for c in cases} | {c["top"][0] for c in cases})
    confusion = {t: {p: 0 for p in labels} for t in labels}
    for c in cases:
        confusion[c["truth"]][c["top"][0]] += 1
    per_class = {}
    for label in labels:
        tp = confusion[label][label]
        true_count = sum(confusion[label].values())
        predicted_count = sum(confusion[t][label] for t in labels)
        per_class[label] = {
            "precision": tp / predicted_count if predicted_count else 0.0,
            "recall": tp / true_count if true_count else 0.0,
        }
    return {
        "aggregate": {
            "top1": top1,
            "top5": top5,
            "macroPrecision": sum(v["precision"] for v in per_class.values()) / len(labels),
            "macroRecall": sum(v["recall"] for v in per_class.values()) / len(labels),
        },
        "perClass": per_class,
        "confusion": confusion,
    }


# ---------------------------------------------------------------- text detection


def area(poly):
    s = 0.0
    for i in range(len(poly)):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % len(poly)]
        s += x1 * y2 - x2 * y1
    return abs(s) / 2.0


def inside_convex(pt, poly, eps=1e-9):
    """On or inside: the point is on the same side of every edge."""
    signs = set()
    for i in range(len(poly)):
        (ax, ay), (bx, by) = poly[i], poly[(i + 1) % len(poly)]
        cross = (bx - ax) * (pt[1] - ay) - (by - ay) * (pt[0] - ax)
        if abs(cross) > eps:
            signs.add(cross > 0)
    return len(signs) <= 1


def segment_crossing(p1, p2, q1, q2):
    d1 = (p2[0] - p1[0], p2[1] - p1[1])
    d2 = (q2[0] - q1[0], q2[1] - q1[1])
    denom = d1[0] * d2[1] - d1[1] * d2[0]
    if denom == 0:
        return None
    u = ((q1[0] - p1[0]) * d2[1] - (q1[1] - p1[1]) * d2[0]) / denom
    v = ((q1[0] - p1[0]) * d1[1] - (q1[1] - p1[1]) * d1[0]) / denom
    if 0 <= u <= 1 and 0 <= v <= 1:
        return (p1[0] + u * d1[0], p1[1] + u * d1[1])
    return None


def convex_intersection_area(a, b):
    """The intersection of two convex polygons is the convex hull of a's vertices inside b, b's inside a and the edges' crossings."""
    points = [p for p in a if inside_convex(p, b)] + [p for p in b if inside_convex(p, a)]
    for i in range(len(a)):
        for j in range(len(b)):
            c = segment_crossing(a[i], a[(i + 1) % len(a)], b[j], b[(j + 1) % len(b)])
            if c is not None:
                points.append(c)
    if len(points) < 3:
        return 0.0
    cx = sum(p[0] for p in points) / len(points)
    cy = sum(p[1] for p in points) / len(points)
    points.sort(key=lambda p: math.atan2(p[1] - cy, p[0] - cx))
    return area(points)


def iou(a, b):
    aa, ab = area(a), area(b)
    if aa == 0 or ab == 0:
        return 0.0
    inter = convex_intersection_area(a, b)
    if is_axis_aligned(a) and is_axis_aligned(b):
        # Rectangles: the overlap is the product of the intervals' overlaps; the hull must agree.
        w = min(max(p[0] for p in a), max(p[0] for p in b)) - max(min(p[0] for p in a), min(p[0] for p in b))
        h = min(max(p[1] for p in a), max(p[1] for p in b)) - max(min(p[1] for p in a), min(p[1] for p in b))
        assert abs(max(w, 0) * max(h, 0) - inter) < 1e-9 * max(1.0, inter), (a, b, inter)
    return inter / (aa + ab - inter)


def is_axis_aligned(poly):
    return len(poly) == 4 and len({p[0] for p in poly}) == 2 and len({p[1] for p in poly}) == 2


def text_detection(cases):
    samples = []
    for case in cases:
        gts = case["truth"]
        ignore = case.get("ignore") or [False] * len(gts)
        dont_care = [g for g, ig in zip(gts, ignore) if ig]
        care = [g for g, ig in zip(gts, ignore) if not ig]
        dets = [d for d in case["prediction"] if not any(iou(d, g) >= 0.5 for g in dont_care)]
        pairs = sorted(
            ((iou(d, g), gi, di) for gi, g in enumerate(care) for di, d in enumerate(dets)),
            key=lambda x: (-x[0], x[1], x[2]),
        )
        used_g, used_d = set(), set()
        for value, gi, di in pairs:
            if value >= 0.5 and gi not in used_g and di not in used_d:
                used_g.add(gi)
                used_d.add(di)
        tp = len(used_g)
        fp, fn = len(dets) - tp, len(care) - tp
        if len(care) == 0:
            recall, precision = 1.0, (0.0 if dets else 1.0)
        else:
            recall, precision = tp / len(care), (tp / len(dets) if dets else 0.0)
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        samples.append({"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1})
    tp = sum(s["tp"] for s in samples)
    fp = sum(s["fp"] for s in samples)
    fn = sum(s["fn"] for s in samples)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"samples": samples, "aggregate": {"precision": precision, "recall": recall, "f1": f1}}


# ---------------------------------------------------------------- image to image


def psnr(pred, truth):
    mse = np.mean((pred.astype(np.float64) - truth.astype(np.float64)) ** 2)
    return 100.0 if mse == 0 else min(100.0, 10 * math.log10(255.0**2 / mse))


def luma(img):
    img = img.astype(np.float64)
    if img.ndim == 3:
        return 0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]
    return img


def ssim(pred, truth):
    x, y = luma(pred), luma(truth)
    r = np.arange(-5, 6, dtype=np.float64)
    g = np.exp(-(r**2) / (2 * 1.5**2))
    kernel = np.outer(g, g)
    kernel /= kernel.sum()

    def window_mean(img):
        windows = np.lib.stride_tricks.sliding_window_view(img, (11, 11))
        return np.einsum("ijkl,kl->ij", windows, kernel)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = window_mean(x), window_mean(y)
    vx = window_mean(x * x) - mx * mx
    vy = window_mean(y * y) - my * my
    vxy = window_mean(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s.mean())


def ssim_by_library(pred, truth):
    """The same convention through scikit-image, or scipy's gaussian_filter as scikit-image calls it, when importable."""
    x, y = luma(pred), luma(truth)
    try:
        from skimage.metrics import structural_similarity

        return "skimage", float(
            structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
        )
    except ImportError:
        pass
    try:
        from scipy.ndimage import gaussian_filter
    except ImportError:
        return None, None

    def f(img):
        return gaussian_filter(img, sigma=1.5, truncate=3.5, mode="reflect")

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = f(x), f(y)
    vx, vy, vxy = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return "scipy", float(s[5:-5, 5:-5].mean())


def image_to_image(cases, load):
    samples = []
    for case in cases:
        p, t = load(case["prediction"]), load(case["truth"])
        library, by_library = ssim_by_library(p, t)
        sample = {"psnr": psnr(p, t), "ssim": ssim(p, t)}
        if library:
            sample["ssimLibrary"] = by_library
            sample["library"] = library
        samples.append(sample)
    return {
        "samples": samples,
        "aggregate": {"psnr": float(np.mean([s["psnr"] for s in samples])), "ssim": float(np.mean([s["ssim"] for s in samples]))},
    }


def main():
    folder = sys.argv[1]
    with open(os.path.join(folder, "cases.json")) as f:
        cases = json.load(f)

    def load(name):
        return np.load(os.path.join(folder, name))

    result = {
        "numpy": np.__version__,
        "depth": depth(cases["depth"], load),
        "segmentation": segmentation(cases["segmentation"], load),
        "classification": classification(cases["classification"]),
        "textDetection": text_detection(cases["textDetection"]),
        "imageToImage": image_to_image(cases["imageToImage"], load),
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
