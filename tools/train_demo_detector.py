#!/usr/bin/python3
"""Train luojia's bundled demo detector: building boxes on SpaceNet 4.

Run from the repository root (CPU only, one thread, a few minutes):

    /usr/bin/python3 tools/train_demo_detector.py

Needs Debian's python3-torch (1.13), python3-onnx, python3-gdal, python3-numpy.
Reads

  data/spacenet4_atlanta.tif        WorldView-2 panchromatic, Atlanta, 900x900
                                    UInt16, nodata 0, EPSG:32616, 0.5 m
  data/spacenet4_buildings.geojson  43 building footprints on it

(SpaceNet 4 data from the solaris repository, CC BY-SA 4.0, "SpaceNet on AWS,
CosmiQ Works / Maxar"; footprint attributes from OpenStreetMap, ODbL) and writes

  data/demo_buildings.onnx          the detector: the YOLOv8-style network of
                                    tools/make_detection_models.py (DFL box head,
                                    three levels, anchors made in the graph),
                                    one band in, one class ("building"), dynamic
                                    H and W, opset 17; metadata_props with
                                    Deepness's keys and luojia's (bands, mean,
                                    std, box_reach), and "license"
  data/demo_buildings_accuracy.json AP50 on the held-back strip and on the
                                    training strip, the split, the label counts

The labels are the footprints' envelopes (axis-aligned boxes). The image is
split by columns: a training strip [0, 600) and a held-back test strip
[664, 900), with a 64-pixel gap; a footprint belongs to the strip holding its
centre and is clipped to it. Training sees only the training strip (random
flips and quarter turns), for a number of iterations fixed in advance; the
test strip is evaluated once, alone, reflect-padded to a multiple of 32 (what
a luojia run over that window computes). AP50 is VOC's all-point interpolated
average precision at IoU 0.5 after NMS at 0.5. With about thirty training
boxes this is a demonstration of the pipeline on real labels, not a useful
building detector; the figures say so.
"""

import io
import json
import math
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
import torchvision
from osgeo import gdal, ogr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_detection_models as m  # noqa: E402

torch.set_num_threads(1)
gdal.UseExceptions()

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DATA = os.path.join(ROOT, "data")
TRAIN = (0, 600)
TEST = (664, 900)
ITERATIONS = 3000
SEED = 4


def load():
    ds = gdal.Open(os.path.join(DATA, "spacenet4_atlanta.tif"))
    image = ds.GetRasterBand(1).ReadAsArray().astype(np.float32)
    gt = ds.GetGeoTransform()
    boxes = []
    src = ogr.Open(os.path.join(DATA, "spacenet4_buildings.geojson"))
    for f in src.GetLayer(0):
        x0, x1, y0, y1 = f.GetGeometryRef().GetEnvelope()
        px = sorted(((x0 - gt[0]) / gt[1], (x1 - gt[0]) / gt[1]))
        py = sorted(((y0 - gt[3]) / gt[5], (y1 - gt[3]) / gt[5]))
        boxes.append([px[0], py[0], px[1], py[1]])
    return image, np.array(boxes)


def strip_boxes(boxes, cols, height):
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    keep = (cx >= cols[0]) & (cx < cols[1])
    b = boxes[keep].copy()
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], cols[0], cols[1]) - cols[0]
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, height)
    return b


def normalise(x, mean, std):
    return np.where(x > 0, (x - mean) / std, 0.0).astype(np.float32)


def pad32(x):
    h, w = x.shape
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    return x[m.reflect_index(np.arange(ph), h)][:, m.reflect_index(np.arange(pw), w)]


def raw_outputs(model, x):
    """Per-anchor box distances (N, 4, REG_MAX logits), class logits (N,), centres and strides."""
    p3 = model.stem(x)
    p4 = model.down4(p3)
    p5 = model.down5(p4)
    p4 = p4 + F.interpolate(model.lat4(p5), scale_factor=2.0, mode="nearest")
    boxes, logits, centres, strides = [], [], [], []
    for i, (f, s) in enumerate(zip((p3, p4, p5), m.STRIDES)):
        b = model.box[i](f)[0]  # (4*R, h, w)
        c = model.cls[i](f)[0, 0]
        h, w = c.shape
        boxes.append(b.view(4, m.REG_MAX, h * w).permute(2, 0, 1))
        logits.append(c.reshape(-1))
        yy, xx = torch.meshgrid((torch.arange(h) + 0.5) * s, (torch.arange(w) + 0.5) * s, indexing="ij")
        centres.append(torch.stack((xx.reshape(-1), yy.reshape(-1)), 1))
        strides.append(torch.full((h * w,), float(s)))
    return torch.cat(boxes), torch.cat(logits), torch.cat(centres), torch.cat(strides)


def targets(gt, centres, strides):
    """Each anchor whose centre lies inside a box (and near its centre, FCOS-style) and whose
    distances fit the DFL range is positive for the smallest such box."""
    n = len(centres)
    assigned = torch.full((n,), -1, dtype=torch.long)
    dist = torch.zeros(n, 4)
    best_area = torch.full((n,), float("inf"))
    for k, (x0, y0, x1, y1) in enumerate(gt.tolist()):
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        l, t = centres[:, 0] - x0, centres[:, 1] - y0
        r, b = x1 - centres[:, 0], y1 - centres[:, 1]
        d = torch.stack((l, t, r, b), 1) / strides[:, None]
        near = ((centres[:, 0] - cx).abs() < 2.5 * strides) & ((centres[:, 1] - cy).abs() < 2.5 * strides)
        ok = (d.min(1).values > 0) & (d.max(1).values < m.REG_MAX - 1.01) & near
        area = (x1 - x0) * (y1 - y0)
        better = ok & (area < best_area)
        assigned[better] = k
        dist[better] = d[better]
        best_area[better] = area
    return assigned, dist


def loss_of(model, x, gt):
    box, logit, centres, strides = raw_outputs(model, x)
    assigned, dist = targets(gt, centres, strides)
    pos = assigned >= 0
    cls_target = pos.float()
    cls_loss = F.binary_cross_entropy_with_logits(logit, cls_target, reduction="sum") / max(1, int(pos.sum()))
    if pos.sum() == 0:
        return cls_loss
    # DFL: cross-entropy to the two bins around each target distance.
    p = box[pos]  # (P, 4, R)
    t = dist[pos].clamp(0, m.REG_MAX - 1.01)
    lo = t.floor().long()
    wl = lo.float() + 1 - t
    logp = F.log_softmax(p, -1)
    dfl = -(logp.gather(-1, lo[..., None])[..., 0] * wl + logp.gather(-1, (lo + 1)[..., None])[..., 0] * (1 - wl)).mean()
    expected = (F.softmax(p, -1) * torch.arange(m.REG_MAX, dtype=torch.float)).sum(-1)
    l1 = (expected - t).abs().mean()
    return cls_loss + dfl + l1


def detect(model, x, conf=0.25, iou=0.5):
    with torch.no_grad():
        y = model(x)[0]
    score = y[4]
    keep = score >= conf
    b, s = y[:4, keep].T, score[keep]
    xyxy = torch.stack((b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2), 1)
    k = torchvision.ops.nms(xyxy, s, iou)
    return xyxy[k].numpy(), s[k].numpy()


def ap50(pred, scores, gt):
    if len(gt) == 0:
        return float("nan")
    order = np.argsort(-scores)
    matched = np.zeros(len(gt), bool)
    tp = np.zeros(len(order))
    ious = torchvision.ops.box_iou(torch.tensor(pred[order]), torch.tensor(gt)).numpy() if len(pred) else np.zeros((0, len(gt)))
    for i in range(len(order)):
        cand = [k for k in np.argsort(-ious[i]) if ious[i, k] >= 0.5 and not matched[k]]
        if cand:
            matched[cand[0]] = True
            tp[i] = 1
    return voc_ap(tp, len(gt))


def voc_ap(tp, labels):
    """VOC's all-point interpolated AP and the final recall of detections in score order, tp[i]
    saying whether the i-th matched a label."""
    ctp = np.cumsum(tp)
    recall = ctp / labels
    precision = ctp / np.arange(1, len(tp) + 1)
    r = np.concatenate(([0], recall, [1]))
    p = np.concatenate(([1], precision, [0]))
    for i in range(len(p) - 2, -1, -1):
        p[i] = max(p[i], p[i + 1])
    return float(np.sum((r[1:] - r[:-1]) * p[1:])), float(recall[-1]) if len(recall) else 0.0


def main():
    started = time.time()
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    image, boxes = load()
    h = image.shape[0]
    train = image[:, TRAIN[0]:TRAIN[1]]
    test = image[:, TEST[0]:TEST[1]]
    valid = train[train > 0]
    mean, std = float(valid.mean()), float(valid.std())
    train_boxes = strip_boxes(boxes, TRAIN, h)
    test_boxes = strip_boxes(boxes, TEST, h)
    print(f"{len(boxes)} footprints: {len(train_boxes)} in the training strip, {len(test_boxes)} in the test strip")
    model = m.TinyYolo8(1, False, in_channels=1, test_init=False, width=2)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=5e-3, total_steps=ITERATIONS)
    base = normalise(train, mean, std)
    for it in range(ITERATIONS):
        x, b = base, train_boxes.copy()
        hh, ww = x.shape
        if rng.random() < 0.5:
            x = x[:, ::-1]
            b[:, [0, 2]] = ww - b[:, [2, 0]]
        if rng.random() < 0.5:
            x = x[::-1]
            b[:, [1, 3]] = hh - b[:, [3, 1]]
        if rng.random() < 0.5:  # transpose: with the flips, every quarter turn
            x = x.T
            b = b[:, [1, 0, 3, 2]]
        # A random 320 x 320 window of the strip (boxes clipped, dropped below half their area).
        hh, ww = x.shape
        y0, x0 = rng.integers(0, hh - 320 + 1), rng.integers(0, ww - 320 + 1)
        crop = np.ascontiguousarray(x[y0:y0 + 320, x0:x0 + 320])
        cb = b - [x0, y0, x0, y0]
        clipped = np.clip(cb, 0, 320)
        area = (cb[:, 2] - cb[:, 0]) * (cb[:, 3] - cb[:, 1])
        kept = ((clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])) >= 0.5 * area
        loss = loss_of(model, torch.from_numpy(crop)[None, None], torch.tensor(clipped[kept], dtype=torch.float))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if it % 100 == 0:
            print(f"iteration {it}: loss {loss.item():.3f}")
    model.eval()

    def evaluate(strip, gt):
        x = torch.from_numpy(np.ascontiguousarray(pad32(normalise(strip, mean, std))))[None, None]
        pred, scores = detect(model, x)
        sh, sw = strip.shape
        inside = ((pred[:, 0] + pred[:, 2]) / 2 < sw) & ((pred[:, 1] + pred[:, 3]) / 2 < sh)
        ap, recall = ap50(pred[inside], scores[inside], gt)
        return {"ap50": round(ap, 4), "recall": round(recall, 4), "detections": int(inside.sum()), "labels": len(gt)}

    result = {"test_strip": evaluate(test, test_boxes), "training_strip": evaluate(train, train_boxes)}
    print(json.dumps(result))
    reach = (m.REG_MAX - 1) * max(m.STRIDES)
    metadata = {"model_type": json.dumps("Detector"), "class_names": json.dumps({"0": "building"}),
                "det_conf": json.dumps(0.25), "det_iou_thresh": json.dumps(0.5), "det_type": json.dumps("YOLO_Ultralytics"),
                "luojia": json.dumps({"bands": [1], "scale": 1.0, "mean": [mean], "std": [std], "box_reach": reach}),
                "license": "CC BY-SA 4.0: trained on SpaceNet 4 (SpaceNet on AWS, CosmiQ Works / Maxar)"}
    buf = io.BytesIO()
    torch.onnx.export(model, torch.zeros(1, 1, 64, 96), buf, opset_version=m.OPSET, input_names=["images"],
                      output_names=["output0"], dynamic_axes={"images": {2: "height", 3: "width"}, "output0": {2: "anchors"}})
    onnx_model = onnx.load_from_string(buf.getvalue())
    for key, value in metadata.items():
        onnx_model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, os.path.join(DATA, "demo_buildings.onnx"))
    report = {"data": "SpaceNet 4 Atlanta (solaris sample_geotiff.tif, geotiff_labels.geojson), 900x900 pan, 0.5 m",
              "labels": "footprint envelopes; a footprint belongs to the strip holding its centre, clipped to it",
              "split": {"train_columns": TRAIN, "test_columns": TEST, "gap_px": TEST[0] - TRAIN[1]},
              "iterations": ITERATIONS, "seed": SEED, "normalisation": {"mean": mean, "std": std},
              "nms_iou": 0.5, "confidence": 0.25, "metric": "VOC all-point AP at IoU 0.5", **result,
              "seconds": round(time.time() - started, 1), "torch": torch.__version__}
    with open(os.path.join(DATA, "demo_buildings_accuracy.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
