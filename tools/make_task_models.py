#!/usr/bin/python3
"""Build the small task models (regression, super-resolution, Deepness metadata)
used by luojia's product tests, with PyTorch's outputs for them.

Run from the repository root (CPU only, about a second):

    /usr/bin/python3 tools/make_task_models.py

Needs Debian's python3-torch (1.13), python3-onnx (1.12) and python3-numpy.
Writes into tests/data/tasks/:

  <model>.onnx              exported at opset 17 with dynamic H and W, Deepness's
                            metadata_props (each value json.dumps'ed, as Deepness
                            writes them)
  <model>_<case>_input.u8   the input image, uint8, C x H x W, no header
  <model>_<case>_output.f32 what the model gives for it, float32 little-endian,
                            after the preprocessing Deepness applies (pixels / 255,
                            then (x - standardization_mean) / standardization_std)
                            and, for the regressor, times reg_output_scaling
  <model>_<case>_classes.u8 for the segmentor: argmax of the probabilities, or
                            class 0 where the best probability is below seg_thresh
  manifest.json             models, metadata, cases and shapes (read by the tests)

Cases are odd sizes (29 x 37), one pixel (1 x 1) and one row (1 x 23), so the
tests can compare luojia's tiled runs at awkward sizes against PyTorch.
Everything is deterministic (torch.manual_seed per model, numpy seeds per case).
"""

import io
import json
import os

import numpy as np
import onnx
from onnx import helper
import torch
import torch.nn as nn

torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "tests", "data", "tasks"))
OPSET = 17
CASES = {"odd": (29, 37), "pixel": (1, 1), "row": (1, 23)}


class Regressor(nn.Module):
    """3 bands -> 2 continuous outputs; receptive radius 1 + 2 = 3."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.c = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        return self.c(torch.relu(self.b(torch.relu(self.a(x)))))


class PixelShuffleX3(nn.Module):
    """ESPCN (Shi et al. 2016): convolutions at low resolution, then
    PixelShuffle(3), which exports as DepthToSpace (mode CRD)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 16, 5, padding=2)
        self.b = nn.Conv2d(16, 16, 3, padding=1)
        self.c = nn.Conv2d(16, 3 * 9, 3, padding=1)
        self.shuffle = nn.PixelShuffle(3)

    def forward(self, x):
        return self.shuffle(self.c(torch.tanh(self.b(torch.tanh(self.a(x))))))


class ConvTransposeX2(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.up = nn.ConvTranspose2d(8, 3, 4, stride=2, padding=1)

    def forward(self, x):
        return self.up(torch.relu(self.a(x)))


class ResizeX4(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x):
        y = torch.relu(self.a(x))
        y = nn.functional.interpolate(y, scale_factor=4, mode="bilinear", align_corners=False)
        return self.b(y)


class Segmentor(nn.Module):
    """3 bands -> softmax over 3 classes, as Deepness's segmentation models end."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x):
        return torch.softmax(self.b(torch.relu(self.a(x))) * 3.0, dim=1)


class Detector(nn.Module):
    """Only its metadata matters to the tests (the detection head comes with issue 12)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return self.a(x)


MEAN = [0.3, 0.4, 0.5]
STD = [0.2, 0.25, 0.3]

MODELS = [
    ("regressor", Regressor, {
        "model_type": "Regressor", "reg_output_scaling": 10.0,
        "standardization_mean": MEAN, "standardization_std": STD,
        "resolution": 100, "tile_size": 256, "tiles_overlap": 10,
        "class_names": {"0": "canopy height", "1": "biomass"}}),
    ("sr_pixelshuffle_x3", PixelShuffleX3, {"model_type": "Superresolution", "resolution": 30}),
    ("sr_convtranspose_x2", ConvTransposeX2, {"model_type": "Superresolution"}),
    ("sr_resize_x4", ResizeX4, {"model_type": "Superresolution"}),
    ("segmentor", Segmentor, {
        "model_type": "Segmentor", "class_names": {"0": "background", "1": "water", "2": "trees"},
        "standardization_mean": MEAN, "standardization_std": STD,
        "seg_thresh": 0.5, "tile_size": 128, "tiles_overlap": 20, "resolution": 30}),
    ("detector", Detector, {
        "model_type": "Detector", "names": {"0": "car", "1": "ship"}, "det_conf": 0.3,
        "det_iou_thresh": 0.45, "det_type": "YOLO_v5_v7_DEFAULT", "tile_size": 640}),
]


def preprocess(image, meta):
    """What Deepness feeds the network: pixels / 255, then standardised."""
    x = image.astype(np.float32) / 255.0
    mean = np.array(meta.get("standardization_mean", [0.0] * 3), np.float32)[:, None, None]
    std = np.array(meta.get("standardization_std", [1.0] * 3), np.float32)[:, None, None]
    return (x - mean) / std


def export(model, meta):
    buf = io.BytesIO()
    torch.onnx.export(model, (torch.zeros(1, 3, 8, 8),), buf, opset_version=OPSET,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {2: "h", 3: "w"}, "output": {2: "H", 3: "W"}})
    proto = onnx.load_from_string(buf.getvalue())
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key = key
        entry.value = json.dumps(value)
    onnx.checker.check_model(proto)
    return proto


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    manifest = {"opset": OPSET, "models": []}
    for seed, (name, cls, meta) in enumerate(MODELS):
        torch.manual_seed(seed)
        model = cls().eval()
        onnx.save(export(model, meta), os.path.join(OUT_DIR, name + ".onnx"))
        ops = sorted({n.op_type for n in onnx.load(os.path.join(OUT_DIR, name + ".onnx")).graph.node})
        entry = {"name": name, "file": name + ".onnx", "metadata": meta, "ops": ops, "cases": []}
        for k, (case, (h, w)) in enumerate(CASES.items()):
            if name == "detector":
                break
            rng = np.random.default_rng(1000 * seed + k)
            image = rng.integers(0, 256, size=(3, h, w), dtype=np.uint8)
            with torch.no_grad():
                y = model(torch.from_numpy(preprocess(image, meta))[None])[0].numpy()
            y = y * np.float32(meta.get("reg_output_scaling", 1.0))
            base = f"{name}_{case}"
            image.tofile(os.path.join(OUT_DIR, base + "_input.u8"))
            y.astype("<f4").tofile(os.path.join(OUT_DIR, base + "_output.f32"))
            c = {"case": case, "input": base + "_input.u8", "input_shape": [3, h, w],
                 "output": base + "_output.f32", "output_shape": list(y.shape)}
            if name == "segmentor":
                classes = np.where(y.max(axis=0) >= meta["seg_thresh"], y.argmax(axis=0), 0).astype(np.uint8)
                classes.tofile(os.path.join(OUT_DIR, base + "_classes.u8"))
                c["classes"] = base + "_classes.u8"
            entry["cases"].append(c)
        manifest["models"].append(entry)
        print(name, ops)
    with open(os.path.join(OUT_DIR, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
