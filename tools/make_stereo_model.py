#!/usr/bin/python3
"""A small learned stereo matcher (GC-Net style) exported as ONNX, with PyTorch's output on a pair.

The network: shared 2-D feature convolutions on each view, a cost volume made by concatenating
the left features with the right ones shifted by each disparity 0..D-1 (F.pad and a slice, as
GC-Net and PSMNet build it), two 3-D convolutions over (disparity, row, column), a softmax over
the disparities and their expectation (soft-argmin): one disparity per pixel, right pixel x - d
matching left pixel x. Weights are seeded, not trained: the test is that luojia computes what
PyTorch computes, tile by tile, not that the disparities are good.

Writes tests/data/stereo/: gcnet_tiny.onnx (opset 13, dynamic H and W), left.tif and right.tif
(a 40 x 56 pair: a texture and itself shifted by 3 pixels, Float32), reference.tif (PyTorch's
disparity on the whole pair).
Usage: make_stereo_model.py [OUT_FOLDER]
"""
import os
import sys

import numpy as np
import rasterio
import torch
import torch.nn as nn
import torch.nn.functional as F
from rasterio.transform import from_origin

DISPARITIES = 8


def cost_volume(fl, fr, disparities):
    """GC-Net's volume: the left features beside the right ones shifted by 0..disparities-1 (N, 2C, D, H, W)."""
    volume = []
    for d in range(disparities):
        shifted = F.pad(fr, (d, 0))[:, :, :, :fr.shape[3]]
        volume.append(torch.cat([fl, shifted], 1))
    return torch.stack(volume, 2)


def soft_argmin(cost, disparities):
    """The expected disparity under the softmax of -cost (N, D, H, W) -> (N, 1, H, W)."""
    p = F.softmax(-cost, 1)
    d = torch.arange(disparities, dtype=torch.float32).view(1, disparities, 1, 1)
    return (p * d).sum(1, keepdim=True)


class TinyGcNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.f1 = nn.Conv2d(1, 6, 3, padding=1)
        self.f2 = nn.Conv2d(6, 6, 3, padding=1)
        self.c1 = nn.Conv3d(12, 6, 3, padding=1)
        self.c2 = nn.Conv3d(6, 1, 3, padding=1)

    def features(self, x):
        return F.relu(self.f2(F.relu(self.f1(x))))

    def forward(self, left, right):
        fl, fr = self.features(left), self.features(right)
        cost = self.c2(F.relu(self.c1(cost_volume(fl, fr, DISPARITIES)))).squeeze(1)
        return soft_argmin(cost, DISPARITIES)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "stereo")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = TinyGcNet().eval()
    rng = np.random.default_rng(0)
    h, w = 40, 56
    texture = rng.normal(size=(h, w + 8)).astype(np.float32)
    left, right = texture[:, 3:3 + w].copy(), texture[:, 6:6 + w].copy()
    example = (torch.from_numpy(left)[None, None], torch.from_numpy(right)[None, None])
    path = os.path.join(out, "gcnet_tiny.onnx")
    torch.onnx.export(model, example, path, input_names=["left", "right"], output_names=["disparity"], opset_version=13,
                      dynamic_axes={"left": {2: "h", 3: "w"}, "right": {2: "h", 3: "w"}, "disparity": {2: "h", 3: "w"}})
    with torch.no_grad():
        reference = model(*example)[0, 0].numpy()
    profile = dict(driver="GTiff", width=w, height=h, count=1, dtype="float32", crs="EPSG:32650",
                   transform=from_origin(245000.0, 3380000.0, 0.5, 0.5))
    for name, a in (("left.tif", left), ("right.tif", right), ("reference.tif", reference)):
        with rasterio.open(os.path.join(out, name), "w", **profile) as dst:
            dst.write(a.astype(np.float32), 1)
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
