#!/usr/bin/python3
"""The peer of bench/instance_bench.sh, and its whole-image reference.

  sahi_instances.py slices IN MODEL OUT.json [--slice 512] [--overlap 0.2] [--threads T]
      SAHI's way with a segmentation model (sahi.predict.get_sliced_prediction on a
      YOLOv8-seg model): rasterio windows of SLICE pixels overlapping by OVERLAP of their
      size, each reflect-padded on the right and bottom to the model's stride, run through
      the network rebuilt in PyTorch (tools/make_instance_sweep.py's model MODEL, rebuilt
      from its seed as that script builds it), decoded (score >= conf, anchor on the
      slice), masks as Ultralytics' retina masks over the slice (all of a slice's masks
      upsampled at once, then cropped to their box), shifted to raster coordinates, and
      merged over the raster by class-aware NMS on the boxes (torchvision batched_nms).
  sahi_instances.py whole IN MODEL OUT.json
      the reference: the whole raster as one network input, anchors whose cell centre lies
      outside the raster dropped, NMS, each kept box's mask made from the formulas over its
      box (bilinear taps written out here): what luojia promises its tiled run equals.
  sahi_instances.py coco PIXEL_BOXES.json OUT.json
      luojia's --pixel-boxes (COCO RLE masks) in this script's form.
  sahi_instances.py compare A.json B.json
      one to one, A in score order, same class: A's instances whose mask equals one of B's
      (mask IoU >= 0.99), A's with no counterpart at mask IoU 0.5 (duplicates, instances
      cut at slice borders) and B's with none in A (missed).

Instances are JSON lists [class, score, x0, y0, width, height, runs]: the mask's window in
raster pixels and its row-major run lengths (outside first).
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import make_instance_sweep as s  # noqa: E402
from make_detection_sweep import network_input  # noqa: E402


def bench_model(name):
    """The sweep's model, rebuilt as tools/make_instance_sweep.py builds it (seed, then the
    coefficient heads centred on the calibration image)."""
    entry = json.load(open(os.path.join(s.OUT_DIR, "manifest.json")))["models"][name]
    c = entry["architecture"]
    case = json.load(open(os.path.join(s.SWEEP_DIR, "manifest.json")))["cases"]["large"]
    image = np.fromfile(os.path.join(s.SWEEP_DIR, "large_input.u8"), np.uint8).reshape(3, case["height"], case["width"])
    torch.manual_seed(entry["seed"])
    model = s.Segmenter(c).eval()
    x, _ = network_input(image, None, model.strides[-1])
    model.centre_logits(torch.from_numpy(np.ascontiguousarray(x))[None])
    return model, entry["conf"], json.load(open(os.path.join(s.OUT_DIR, "manifest.json")))["iou"]


def runs_of(mask):
    flat = mask.ravel()
    if flat.size == 0:
        return []
    edges = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate(([0], edges, [flat.size]))
    runs = np.diff(bounds).tolist()
    return ([0] + runs) if flat[0] else runs


def candidates(model, x, h, w, conf):
    """Kept-to-be boxes of one padded input: xyxy, score, class, coefficients."""
    with torch.no_grad():
        y, protos = model(torch.from_numpy(np.ascontiguousarray(x))[None])
    y, protos = y[0].double().numpy(), protos[0]
    ph, pw = x.shape[1:]
    centres = []
    for st in model.strides:
        gy, gx = np.meshgrid((np.arange(ph // st) + 0.5) * st, (np.arange(pw // st) + 0.5) * st, indexing="ij")
        centres.append(np.stack((gx.ravel(), gy.ravel()), 1))
    centres = np.concatenate(centres)
    scores = y[4:4 + model.nc]
    best, cls = scores.max(0), scores.argmax(0)
    keep = (best >= conf) & (centres[:, 0] < w) & (centres[:, 1] < h)
    b = y[:4, keep]
    xyxy = np.stack([b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2], 1)
    return xyxy, best[keep], cls[keep], y[4 + model.nc:, keep].T.astype(np.float32), protos


def crop_of(xyxy, h, w):
    x0, y0 = max(0, int(np.ceil(xyxy[0]))), max(0, int(np.ceil(xyxy[1])))
    x1, y1 = min(w, int(np.ceil(xyxy[2]))), min(h, int(np.ceil(xyxy[3])))
    return x0, y0, max(x0, x1), max(y0, y1)


def slices(path, name, out, size=512, overlap=0.2):
    import rasterio
    from rasterio.windows import Window
    model, conf, iou = bench_model(name)
    align = model.strides[-1]
    found = []  # (xyxy in raster pixels, score, class, mask crop in raster pixels)
    step = max(1, int(size * (1 - overlap)))
    with rasterio.open(path) as src:
        W, H = src.width, src.height
        for y0 in range(0, H, step):
            for x0 in range(0, W, step):
                w, h = min(size, W - x0), min(size, H - y0)
                image = src.read(window=Window(x0, y0, w, h))
                x, _ = network_input(image, None, align)
                xyxy, score, cls, coef, protos = candidates(model, x, h, w, conf)
                if len(score):
                    # Ultralytics' process_mask_native over the slice: every mask upsampled, then cropped.
                    logits = (torch.from_numpy(coef) @ protos.reshape(protos.shape[0], -1)).view(1, -1, *protos.shape[1:])
                    up = F.interpolate(logits, size=x.shape[1:], mode="bilinear", align_corners=False)[0]
                    for i in range(len(score)):
                        cx0, cy0, cx1, cy1 = crop_of(xyxy[i], h, w)
                        crop = (up[i, cy0:cy1, cx0:cx1] > 0).numpy()
                        cols, rows = np.arange(cx0, cx1)[None, :], np.arange(cy0, cy1)[:, None]
                        crop &= (cols >= xyxy[i, 0]) & (cols < xyxy[i, 2]) & (rows >= xyxy[i, 1]) & (rows < xyxy[i, 3])
                        found.append((xyxy[i] + [x0, y0, x0, y0], score[i], cls[i], (cx0 + x0, cy0 + y0, crop)))
                if x0 + size >= W:
                    break
            if y0 + size >= H:
                break
    boxes = torch.from_numpy(np.array([f[0] for f in found]).reshape(-1, 4))
    kept = torchvision.ops.batched_nms(boxes, torch.tensor([float(f[1]) for f in found], dtype=torch.float64),
                                       torch.tensor([int(f[2]) for f in found]), iou).numpy()
    result = []
    for k in kept:
        _, score, cls, (mx, my, crop) = found[k]
        if crop.any():
            result.append([int(cls), float(score), mx, my, crop.shape[1], crop.shape[0], runs_of(crop)])
    json.dump(result, open(out, "w"))
    print(len(result), "instances")


def whole(path, name, out):
    import rasterio
    model, conf, iou = bench_model(name)
    with rasterio.open(path) as src:
        image = src.read()
    _, h, w = image.shape
    x, _ = network_input(image, None, model.strides[-1])
    del image
    ph, pw = x.shape[1:]
    xyxy, score, cls, coef, protos = candidates(model, x, h, w, conf)
    del x
    kept = torchvision.ops.batched_nms(torch.from_numpy(xyxy), torch.from_numpy(score), torch.from_numpy(cls.astype(np.int64)), iou).numpy()
    gh, gw = protos.shape[1:]

    def taps(pixels, cells, scale):
        src = np.maximum(0.0, (pixels.astype(np.float32) + 0.5) / scale - 0.5).astype(np.float32)
        i0 = src.astype(np.int64)
        i1 = i0 + (i0 < cells - 1)
        w1 = (src - i0).astype(np.float32)
        return i0, i1, (1 - w1).astype(np.float32), w1

    result = []
    for k in kept:
        cx0, cy0, cx1, cy1 = crop_of(xyxy[k], h, w)
        if cx1 <= cx0 or cy1 <= cy0:
            continue
        c0, c1, cw0, cw1 = taps(np.arange(cx0, cx1), gw, pw // gw)
        r0, r1, rw0, rw1 = taps(np.arange(cy0, cy1), gh, ph // gh)
        lo_r, hi_r, lo_c, hi_c = r0.min(), r1.max() + 1, c0.min(), c1.max() + 1
        logits = (torch.from_numpy(coef[k]) @ protos[:, lo_r:hi_r, lo_c:hi_c].reshape(protos.shape[0], -1)).view(hi_r - lo_r, hi_c - lo_c).numpy()
        a, b = logits[r0 - lo_r][:, c0 - lo_c], logits[r0 - lo_r][:, c1 - lo_c]
        c, d = logits[r1 - lo_r][:, c0 - lo_c], logits[r1 - lo_r][:, c1 - lo_c]
        value = rw0[:, None] * (cw0[None] * a + cw1[None] * b) + rw1[:, None] * (cw0[None] * c + cw1[None] * d)
        cols, rows = np.arange(cx0, cx1)[None, :], np.arange(cy0, cy1)[:, None]
        crop = (value > 0) & (cols >= xyxy[k, 0]) & (cols < xyxy[k, 2]) & (rows >= xyxy[k, 1]) & (rows < xyxy[k, 3])
        if crop.any():
            result.append([int(cls[k]), float(score[k]), cx0, cy0, cx1 - cx0, cy1 - cy0, runs_of(crop)])
    json.dump(result, open(out, "w"))
    print(len(result), "instances")


def coco(path, out):
    doc = json.load(open(path))
    h, w = doc["images"][0]["height"], doc["images"][0]["width"]
    result = []
    for a in doc["annotations"]:
        x, y, bw, bh = a["bbox"]
        cx0, cy0, cx1, cy1 = crop_of((x, y, x + bw, y + bh), h, w)
        crop = np.zeros((cy1 - cy0, cx1 - cx0), bool)
        at, inside = 0, False
        for n in a["segmentation"]["counts"]:
            if inside:
                p = np.arange(at, at + n)
                crop[p % h - cy0, p // h - cx0] = True
            at, inside = at + n, not inside
        result.append([a["category_id"], a["score"], cx0, cy0, cx1 - cx0, cy1 - cy0, runs_of(crop)])
    json.dump(result, open(out, "w"))


def dense(inst):
    _, _, x0, y0, w, h, runs = inst
    values = np.arange(len(runs)) % 2 == 1
    return np.repeat(values, runs)[:w * h].reshape(h, w) if w * h else np.zeros((h, w), bool)


def mask_iou(u, v, du, dv):
    x0, y0 = min(u[2], v[2]), min(u[3], v[3])
    x1, y1 = max(u[2] + u[4], v[2] + v[4]), max(u[3] + u[5], v[3] + v[5])
    a = np.zeros((y1 - y0, x1 - x0), bool)
    b = np.zeros_like(a)
    a[u[3] - y0:u[3] - y0 + u[5], u[2] - x0:u[2] - x0 + u[4]] = du
    b[v[3] - y0:v[3] - y0 + v[5], v[2] - x0:v[2] - x0 + v[4]] = dv
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def compare(a_path, b_path):
    a, b = json.load(open(a_path)), json.load(open(b_path))
    masks = {id(i): dense(i) for i in a + b}  # decoded once

    def unmatched(p, q, threshold):
        cell = 64
        cells = {}
        for k, v in enumerate(q):
            for cx in range(v[2] // cell, (v[2] + v[4]) // cell + 1):
                for cy in range(v[3] // cell, (v[3] + v[5]) // cell + 1):
                    cells.setdefault((v[0], cx, cy), set()).add(k)
        taken, count = set(), 0
        for u in sorted(p, key=lambda i: -i[1]):
            near = set()
            for cx in range(u[2] // cell, (u[2] + u[4]) // cell + 1):
                for cy in range(u[3] // cell, (u[3] + u[5]) // cell + 1):
                    near |= cells.get((u[0], cx, cy), set())
            best, best_iou = None, threshold
            for k in near - taken:
                if (o := mask_iou(u, q[k], masks[id(u)], masks[id(q[k])])) >= best_iou:
                    best, best_iou = k, o
            if best is None:
                count += 1
            else:
                taken.add(best)
        return count

    print(json.dumps({"instances": len(a), "reference": len(b), "same (mask IoU>=0.99)": len(a) - unmatched(a, b, 0.99),
                      "extra at mask IoU 0.5": unmatched(a, b, 0.5), "missing at mask IoU 0.5": unmatched(b, a, 0.5)}))


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if "--threads" in args:
        torch.set_num_threads(int(args[args.index("--threads") + 1]))
    if mode == "slices":
        size = int(args[args.index("--slice") + 1]) if "--slice" in args else 512
        overlap = float(args[args.index("--overlap") + 1]) if "--overlap" in args else 0.2
        slices(args[0], args[1], args[2], size, overlap)
    elif mode == "whole":
        whole(args[0], args[1], args[2])
    elif mode == "coco":
        coco(args[0], args[1])
    elif mode == "compare":
        compare(args[0], args[1])
