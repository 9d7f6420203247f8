#!/usr/bin/python3
"""The peer of bench/detect_bench.sh, and its whole-image reference.

  sahi_detect.py slices IN MODEL OUT.json [--slice 512] [--overlap 0.2] [--threads T]
      SAHI's way (sahi.predict.get_sliced_prediction, which the issue trackers of
      SAHI, DeepForest and Deepness describe): rasterio windows of SLICE pixels
      overlapping by OVERLAP of their size, each reflect-padded on the right and
      bottom to a multiple of 32, run through the detector rebuilt in PyTorch from
      tools/make_detection_models.py (weights from the ONNX file's initializers
      would need a converter; the bench model is built by that script with a fixed
      seed, so the same weights are rebuilt), decoded (score >= conf), shifted to
      raster coordinates, and merged over the raster by class-aware NMS
      (torchvision.ops.batched_nms at the model's IoU threshold).
  sahi_detect.py whole IN MODEL OUT.json
      the reference: the whole raster as one network input (reflect-padded to a
      multiple of 32), anchors whose cell centre lies outside the raster dropped,
      score >= conf, batched_nms: what luojia promises its tiled run equals.
  sahi_detect.py compare A.json B.json
      how many boxes of A equal one of B (same class, IoU >= 0.99, one to one), and
      at IoU 0.5 (one to one, A in score order): A's boxes with no counterpart in B
      (duplicates, boxes cut at slice borders) and B's with none in A (missed).
  sahi_detect.py vector OUT.gpkg OUT.json
      luojia's product back to pixel boxes (inverse geotransform) for compare.

Boxes are written as JSON lists [class, score, x1, y1, x2, y2] in raster pixels.
"""

import json
import os
import sys

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import make_detection_models as m  # noqa: E402

CONF, IOU = m.CONF, m.IOU


def bench_model():
    torch.manual_seed(8)  # as make_detection_models.py builds yolo8_tiny
    return m.TinyYolo8(3, False).eval()


def run(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(x))[None])[0].numpy()


def decode(y, h, w, ph, pw, dx, dy):
    centres = []
    for s in m.STRIDES:
        gy, gx = np.meshgrid((np.arange(ph // s) + 0.5) * s, (np.arange(pw // s) + 0.5) * s, indexing="ij")
        centres.append(np.stack((gx.ravel(), gy.ravel()), 1))
    centres = np.concatenate(centres)
    scores = y[4:]
    best, cls = scores.max(0), scores.argmax(0)
    keep = (best >= CONF) & (centres[:, 0] < w) & (centres[:, 1] < h)
    b = y[:4, keep].astype(np.float64)
    xyxy = np.stack([b[0] - b[2] / 2 + dx, b[1] - b[3] / 2 + dy, b[0] + b[2] / 2 + dx, b[1] + b[3] / 2 + dy], 1)
    return xyxy, best[keep].astype(np.float64), cls[keep]


def pad(x):
    c, h, w = x.shape
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    return x[:, m.reflect_index(np.arange(ph), h)][:, :, m.reflect_index(np.arange(pw), w)], ph, pw


def nms(xyxy, score, cls):
    k = torchvision.ops.batched_nms(torch.from_numpy(xyxy), torch.from_numpy(score), torch.from_numpy(cls.astype(np.int64)), IOU)
    return [[int(cls[i]), float(score[i]), *map(float, xyxy[i])] for i in k.numpy()]


def slices(path, out, size=512, overlap=0.2):
    import rasterio
    from rasterio.windows import Window
    model = bench_model()
    boxes, scores, classes = [], [], []
    step = max(1, int(size * (1 - overlap)))
    with rasterio.open(path) as src:
        W, H = src.width, src.height
        for y0 in range(0, H, step):
            for x0 in range(0, W, step):
                w, h = min(size, W - x0), min(size, H - y0)
                x = src.read(window=Window(x0, y0, w, h)).astype(np.float32) / 255.0
                xp, ph, pw = pad(x)
                b, s, c = decode(run(model, xp), h, w, ph, pw, x0, y0)
                boxes.append(b), scores.append(s), classes.append(c)
                if x0 + size >= W:
                    break
            if y0 + size >= H:
                break
    result = nms(np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes))
    json.dump(result, open(out, "w"))
    print(len(result), "boxes")


def whole(path, out):
    import rasterio
    model = bench_model()
    with rasterio.open(path) as src:
        x = src.read().astype(np.float32) / 255.0
    _, h, w = x.shape
    xp, ph, pw = pad(x)
    del x
    result = nms(*decode(run(model, xp), h, w, ph, pw, 0, 0))
    json.dump(result, open(out, "w"))
    print(len(result), "boxes")


def vector(path, out):
    from osgeo import gdal, ogr
    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    raster = gdal.Open(sys.argv[4]) if len(sys.argv) > 4 else None
    gt = raster.GetGeoTransform() if raster else (0, 1, 0, 0, 0, 1)
    result = []
    for f in layer:
        x0, x1, y0, y1 = f.GetGeometryRef().GetEnvelope()
        px = sorted(((x0 - gt[0]) / gt[1], (x1 - gt[0]) / gt[1]))
        py = sorted(((y0 - gt[3]) / gt[5], (y1 - gt[3]) / gt[5]))
        result.append([f.GetField("class_id"), f.GetField("score"), px[0], py[0], px[1], py[1]])
    json.dump(result, open(out, "w"))


def compare(a_path, b_path):
    a, b = json.load(open(a_path)), json.load(open(b_path))

    def iou(u, v):
        w = max(0.0, min(u[4], v[4]) - max(u[2], v[2]))
        h = max(0.0, min(u[5], v[5]) - max(u[3], v[3]))
        inter = w * h
        union = (u[4] - u[2]) * (u[5] - u[3]) + (v[4] - v[2]) * (v[5] - v[3]) - inter
        return inter / union if union > 0 else 0.0

    def unmatched(p, q, threshold):
        """Boxes of p left over by a one-to-one greedy matching (p in score order) to boxes of q of
        the same class with IoU >= threshold."""
        cell = 4 if threshold > 0.9 else 64
        cells = {}
        for k, v in enumerate(q):
            cells.setdefault((v[0], int(v[2] // cell), int(v[3] // cell)), []).append(k)
        taken = set()
        count = 0
        for u in sorted(p, key=lambda b: -b[1]):
            cx, cy = int(u[2] // cell), int(u[3] // cell)
            best, best_iou = None, threshold
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for k in cells.get((u[0], cx + dx, cy + dy), ()):
                        if k not in taken and (o := iou(u, q[k])) >= best_iou:
                            best, best_iou = k, o
            if best is None:
                count += 1
            else:
                taken.add(best)
        return count

    print(json.dumps({"boxes": len(a), "reference": len(b),
                      "same (IoU>=0.99)": len(a) - unmatched(a, b, 0.99), "extra at IoU 0.5": unmatched(a, b, 0.5),
                      "missing at IoU 0.5": unmatched(b, a, 0.5)}))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "slices":
        args = sys.argv[2:]
        size = int(args[args.index("--slice") + 1]) if "--slice" in args else 512
        overlap = float(args[args.index("--overlap") + 1]) if "--overlap" in args else 0.2
        if "--threads" in args:
            torch.set_num_threads(int(args[args.index("--threads") + 1]))
        slices(args[0], args[2], size, overlap)
    elif mode == "whole":
        whole(sys.argv[2], sys.argv[4])
    elif mode == "vector":
        vector(sys.argv[2], sys.argv[3])
    elif mode == "compare":
        compare(sys.argv[2], sys.argv[3])
