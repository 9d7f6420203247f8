#!/usr/bin/python3
"""Reference results for luojia's box overlap and non-maximum suppression tests.

Run from the repository root:

    /usr/bin/python3 tools/make_detection_references.py

Needs Debian's python3-torch, python3-torchvision (torchvision.ops.box_iou,
batched_nms, nms) and python3-shapely (exact polygon IoU of rotated boxes).
Writes tests/data/detection/nms_reference.json:

  boxes       clustered random boxes [cx, cy, w, h, score, class] (pixels),
              scores distinct so the greedy order has no ties
  iou         torchvision.ops.box_iou of the first 40 boxes (row-major)
  kept        {"0.45": [...], "0.7": [...]}: batched_nms indices, best first
  kept_agnostic  nms (all classes together) at 0.45
  oriented    rotated boxes [cx, cy, w, h, angle] (radians, clockwise on
              screen), and shapely's polygon IoU of every pair
Deterministic (numpy seed 0).
"""

import json
import math
import os

import numpy as np
import shapely.geometry
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "tests", "data", "detection", "nms_reference.json"))


def corners(cx, cy, w, h, a):
    c, s = math.cos(a), math.sin(a)
    ux, uy, vx, vy = w / 2 * c, w / 2 * s, -h / 2 * s, h / 2 * c
    return [(cx - ux - vx, cy - uy - vy), (cx + ux - vx, cy + uy - vy), (cx + ux + vx, cy + uy + vy), (cx - ux + vx, cy - uy + vy)]


def main():
    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 200, size=(10, 2))
    boxes = []
    for i in range(300):
        c = centres[rng.integers(0, len(centres))]
        cx, cy = c + rng.normal(0, 6, size=2)
        w, h = rng.uniform(8, 40, size=2)
        boxes.append([float(cx), float(cy), float(w), float(h)])
    scores = rng.permutation(300) / 300.0 * 0.9 + 0.05 + rng.uniform(0, 1e-4, 300)
    classes = rng.integers(0, 4, size=300)
    t = torch.tensor(boxes, dtype=torch.float64)
    xyxy = torch.stack([t[:, 0] - t[:, 2] / 2, t[:, 1] - t[:, 3] / 2, t[:, 0] + t[:, 2] / 2, t[:, 1] + t[:, 3] / 2], dim=1)
    st = torch.tensor(scores, dtype=torch.float64)
    ct = torch.tensor(classes)
    ref = {
        "boxes": [b + [float(s), int(c)] for b, s, c in zip(boxes, scores, classes)],
        "iou": torchvision.ops.box_iou(xyxy[:40], xyxy[:40]).flatten().tolist(),
        "kept": {str(th): torchvision.ops.batched_nms(xyxy, st, ct, th).tolist() for th in (0.45, 0.7)},
        "kept_agnostic": torchvision.ops.nms(xyxy, st, 0.45).tolist(),
    }
    oriented = []
    for i in range(30):
        c = centres[rng.integers(0, 6)]
        cx, cy = c + rng.normal(0, 5, size=2)
        w, h = rng.uniform(6, 30, size=2)
        a = float(rng.uniform(-math.pi, math.pi)) if i % 5 else 0.0
        oriented.append([float(cx), float(cy), float(w), float(h), a])
    polys = [shapely.geometry.Polygon(corners(*b)) for b in oriented]
    ious = []
    for p in polys:
        for q in polys:
            inter = p.intersection(q).area
            ious.append(inter / (p.area + q.area - inter))
    ref["oriented"] = {"boxes": oriented, "iou": ious}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(ref, f)
        f.write("\n")
    print(OUT, len(ref["kept"]["0.45"]), "kept at 0.45 of 300")


if __name__ == "__main__":
    main()
