#!/usr/bin/python3
"""A static (fixed-size) export of the test detector yolo8_tiny, and its references.

Run from the repository root after tools/make_detection_models.py (CPU only, seconds):

    /usr/bin/python3 tools/make_static_detector.py

Exporters often fix the input size (Ultralytics' default export is 640 x 640); luojia runs such
a model on windows of exactly that size. This rebuilds yolo8_tiny from the same seed (its weights
are checked against tests/data/detection/yolo8_tiny.onnx), exports it without dynamic axes at
WINDOW x WINDOW, and writes into tests/data/detection/:

  yolo8_tiny_static.onnx          input fixed to 1 x 3 x WINDOW x WINDOW, anchors constant
  yolo8_tiny_static_<case>.json   for the cases that fit one window: the raster padded on the
                                  right and bottom to WINDOW x WINDOW by reflection (numpy's
                                  "reflect"), one run, the reference decode + batched_nms of
                                  make_detection_models.py

Rasters larger than a window go through overlapping windows, merged by NMS: not exact, and the
tests compare them with the dynamic model's whole-image reference loosely.
"""


import numpy as np
import torch

import make_detection_models as m

WINDOW = 224
ONE_WINDOW_CASES = ("odd", "small", "pixel", "row")


def reference_in_window(model, image):
    """make_detection_models.reference, with the padding to the fixed window instead of to 32."""
    c, h, w = image.shape
    x = image.astype(np.float32) / 255.0
    x = x[:, m.reflect_index(np.arange(WINDOW), h)][:, :, m.reflect_index(np.arange(WINDOW), w)]
    boxes, score, label, _ = m.candidates(model, x, h, w, m.AUGMENTATIONS["none"][0])
    xyxy = np.stack([boxes[:, 0] - boxes[:, 2] / 2, boxes[:, 1] - boxes[:, 3] / 2,
                     boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2], 1)
    kept = m.torchvision.ops.batched_nms(torch.from_numpy(xyxy), torch.from_numpy(score),
                                         torch.from_numpy(label), m.IOU).numpy()
    return [{"class_id": int(label[i]), "score": float(score[i]), "cx": float(boxes[i, 0]), "cy": float(boxes[i, 1]),
             "width": float(boxes[i, 2]), "height": float(boxes[i, 3]), "angle": 0.0} for i in kept]


def main():
    model, committed = m.rebuilt_yolo8_tiny()
    m.export_like(model, committed, "yolo8_tiny_static", (1, 3, WINDOW, WINDOW))
    counts = m.write_references("yolo8_tiny_static", ONE_WINDOW_CASES, lambda image: reference_in_window(model, image), "static",
                                lambda counts: {"model": "yolo8_tiny_static", "window": WINDOW, "one_window": counts})
    print("yolo8_tiny_static", WINDOW, counts)


if __name__ == "__main__":
    main()
