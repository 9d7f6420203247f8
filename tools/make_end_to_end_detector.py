#!/usr/bin/python3
"""An NMS-free, end-to-end export of the test detector yolo8_tiny, and its references.

Run from the repository root after tools/make_detection_models.py (CPU only, seconds):

    /usr/bin/python3 tools/make_end_to_end_detector.py

YOLOv10-style exports end in the model's own top-K: output (1, K, 6) = x1, y1, x2, y2, score,
class, made by TopK and GatherElements inside the graph. This wraps yolo8_tiny (rebuilt from its
seed; its weights are checked against tests/data/detection/yolo8_tiny.onnx) with that head,
K = TOP_K, exports it with dynamic H and W, and writes into tests/data/detection/:

  yolo8_e2e_tiny.onnx          the end-to-end export (TopK over every anchor of the image)
  yolo8_e2e_tiny_<case>.json   per case, the whole-image reference: pixels / 255, the image
                               padded on the right and bottom to a multiple of 32 by reflection,
                               one run, boxes below det_conf dropped, class-aware
                               torchvision.ops.batched_nms at det_iou_thresh (what luojia-detect
                               does with any detector's boxes)

With an oriented head (YOLOv8-OBB's, as yolo8_obb_tiny) the export ends in (1, K, 7) = cx, cy, w,
h, score, class, angle: yolo8_obb_tiny rebuilt from its seed, K = TOP_K, written as
yolo8_obb_e2e_tiny.onnx with references yolo8_obb_e2e_tiny_<case>.json (class-aware greedy NMS in
descending score with shapely's exact polygon IoU, as make_detection_models.py's oriented reference).

A top-K over the whole image is global: tiles would each keep their own K, so luojia runs a raster
that fits one tile exactly and larger ones by overlapping tiles, said to be not exact.
"""


import os

import numpy as np
import torch
import torch.nn as nn

import make_detection_models as m

TOP_K = 20  # at most the anchors of the smallest case (1 x 1, padded to 32 x 32: 21)
CASES = ("odd", "small", "wide", "pixel", "row")


class EndToEnd(nn.Module):
    def __init__(self, detector, k):
        super().__init__()
        self.detector, self.k = detector, k

    def forward(self, x):
        y = self.detector(x)                       # (1, 4 + classes, anchors): cx, cy, w, h, scores
        box, cls = y[:, :4], y[:, 4:]
        score, label = cls.max(1)
        top, index = torch.topk(score, self.k, dim=1)
        b = box.transpose(1, 2).gather(1, index.unsqueeze(-1).expand(-1, -1, 4))
        corner1, corner2 = b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2
        return torch.cat([corner1, corner2, top.unsqueeze(-1), label.gather(1, index).float().unsqueeze(-1)], -1)


class EndToEndOriented(nn.Module):
    def __init__(self, detector, k):
        super().__init__()
        self.detector, self.k = detector, k

    def forward(self, x):
        y = self.detector(x)                       # (1, 4 + classes + 1, anchors): cx, cy, w, h, scores, angle
        box, cls, angle = y[:, :4], y[:, 4:-1], y[:, -1:]
        score, label = cls.max(1)
        top, index = torch.topk(score, self.k, dim=1)
        b = torch.cat([box, angle], 1).transpose(1, 2).gather(1, index.unsqueeze(-1).expand(-1, -1, 5))
        return torch.cat([b[..., :4], top.unsqueeze(-1), label.gather(1, index).float().unsqueeze(-1), b[..., 4:]], -1)


def padded_input(image):
    c, h, w = image.shape
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    x = image.astype(np.float32) / 255.0
    return x[:, m.reflect_index(np.arange(ph), h)][:, :, m.reflect_index(np.arange(pw), w)]


def reference_oriented(model, image):
    with torch.no_grad():
        out = model(torch.from_numpy(np.ascontiguousarray(padded_input(image)))[None])[0].double().numpy()  # (K, 7)
    keep = (out[:, 4] >= m.CONF) & (out[:, 2] > 0) & (out[:, 3] > 0)
    rows = np.nonzero(keep)[0]
    order = sorted(rows, key=lambda i: (-out[i, 4], i))
    polys = {i: m.polygon(*out[i, :4], out[i, 6]) for i in rows}
    kept = []
    for i in order:
        if all(round(out[k, 5]) != round(out[i, 5]) or
               polys[k].intersection(polys[i]).area / (polys[k].area + polys[i].area - polys[k].intersection(polys[i]).area) <= m.IOU
               for k in kept):
            kept.append(i)
    return [{"class_id": int(round(out[i, 5])), "score": float(out[i, 4]), "cx": float(out[i, 0]), "cy": float(out[i, 1]),
             "width": float(out[i, 2]), "height": float(out[i, 3]), "angle": float(out[i, 6])} for i in kept]


def rebuilt_yolo8_obb_tiny():
    """yolo8_obb_tiny rebuilt from its seed, its weights checked against the committed file."""
    torch.manual_seed(12)
    model = m.TinyYolo8(2, True).eval()
    committed = m.onnx.load(os.path.join(m.OUT_DIR, "yolo8_obb_tiny.onnx"))
    found = {m.numpy_helper.to_array(t).tobytes() for t in committed.graph.initializer}
    weights = [p.detach().numpy() for p in model.state_dict().values() if p.dim() > 0]
    if any(w.astype(np.float32).tobytes() not in found for w in weights):
        raise SystemExit("the rebuilt model's weights differ from yolo8_obb_tiny.onnx")
    return model, committed


def reference(model, image):
    c, h, w = image.shape
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    x = image.astype(np.float32) / 255.0
    x = x[:, m.reflect_index(np.arange(ph), h)][:, :, m.reflect_index(np.arange(pw), w)]
    with torch.no_grad():
        out = model(torch.from_numpy(np.ascontiguousarray(x))[None])[0].numpy()   # (K, 6)
    keep = (out[:, 4] >= m.CONF) & (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
    rows = np.nonzero(keep)[0]
    xyxy, score, label = out[rows, :4], out[rows, 4], out[rows, 5].round().astype(np.int64)
    kept = m.torchvision.ops.batched_nms(torch.from_numpy(xyxy), torch.from_numpy(score), torch.from_numpy(label), m.IOU).numpy()
    return [{"class_id": int(label[i]), "score": float(score[i]), "cx": float((xyxy[i, 0] + xyxy[i, 2]) / 2),
             "cy": float((xyxy[i, 1] + xyxy[i, 3]) / 2), "width": float(xyxy[i, 2] - xyxy[i, 0]),
             "height": float(xyxy[i, 3] - xyxy[i, 1]), "angle": 0.0} for i in kept]


def main():
    detector, committed = m.rebuilt_yolo8_tiny()
    model = EndToEnd(detector, TOP_K).eval()
    m.export_like(model, committed, "yolo8_e2e_tiny", (1, 3, 128, 160), {"images": {2: "height", 3: "width"}})
    counts = m.write_references("yolo8_e2e_tiny", CASES, lambda image: reference(model, image), "end_to_end",
                                lambda counts: {"model": "yolo8_e2e_tiny", "top_k": TOP_K, "cases": counts})
    print("yolo8_e2e_tiny", counts)
    detector, committed = rebuilt_yolo8_obb_tiny()
    model = EndToEndOriented(detector, TOP_K).eval()
    m.export_like(model, committed, "yolo8_obb_e2e_tiny", (1, 3, 128, 160), {"images": {2: "height", 3: "width"}})
    counts = m.write_references("yolo8_obb_e2e_tiny", CASES, lambda image: reference_oriented(model, image), "end_to_end_oriented",
                                lambda counts: {"model": "yolo8_obb_e2e_tiny", "top_k": TOP_K, "cases": counts})
    print("yolo8_obb_e2e_tiny", counts)


if __name__ == "__main__":
    main()
