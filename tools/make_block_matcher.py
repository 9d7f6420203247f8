#!/usr/bin/python3
"""A learned-matcher-shaped network whose weights are set, not trained: block matching as ONNX.

It has the shape of GC-Net and PSMNet (what LuoJiaNET's stereo models export): 2-D features of
each view, a cost volume concatenating the left features with the right ones shifted by each
disparity 0..D-1 (F.pad and a slice), 3-D convolutions over (disparity, row, column), a softmax
over the disparities and its expectation (soft-argmin). Its weights make it a block matcher: the
feature is the intensity scaled by 1/300, the first 3-D convolution takes the two differences,
whose ReLUs sum to the absolute difference, the second averages it over 5 x 5 pixels, and the
softmax of -10 times that cost picks the disparity whose window matches best. Unlike seeded
weights, it finds true disparities, so a DSM made through it can be checked against the ground.

Writes tests/data/stereo/: block_matcher.onnx (opset 13, dynamic H and W, 48 disparities),
block_matcher_left.tif and block_matcher_right.tif (make_stereo_model.py's pair, a texture and
itself shifted by 3 pixels, scaled by 300) and block_matcher_reference.tif (PyTorch's disparity
on them).
Usage: make_block_matcher.py [OUT_FOLDER]
"""
import os
import sys

import numpy as np
import rasterio
import torch
import torch.nn as nn
import torch.nn.functional as F

from make_stereo_model import cost_volume, soft_argmin

DISPARITIES = 48
SHARPNESS = 50.0  # the softmax of -50 times the cost: the best window by far, its neighbours a little


class BlockMatcher(nn.Module):
    def __init__(self):
        super().__init__()
        self.feature = nn.Conv2d(1, 1, 1)
        self.difference = nn.Conv3d(2, 2, 1)
        self.window = nn.Conv3d(2, 1, (1, 5, 5), padding=(0, 2, 2))
        with torch.no_grad():
            self.feature.weight.fill_(1.0 / 300.0)
            self.feature.bias.zero_()
            self.difference.weight.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).view(2, 2, 1, 1, 1))
            self.difference.bias.zero_()
            self.window.weight.fill_(1.0 / 25.0)
            self.window.bias.zero_()

    def forward(self, left, right):
        fl, fr = self.feature(left), self.feature(right)
        cost = self.window(F.relu(self.difference(cost_volume(fl, fr, DISPARITIES)))).squeeze(1)
        return soft_argmin(SHARPNESS * cost, DISPARITIES)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "stereo")
    model = BlockMatcher().eval()
    with rasterio.open(os.path.join(out, "left.tif")) as l, rasterio.open(os.path.join(out, "right.tif")) as r:
        left, right, profile = l.read(1), r.read(1), l.profile
    # The pair's texture is unit noise: scaled to the intensities the network is made for.
    left, right = (left * 300.0).astype(np.float32), (right * 300.0).astype(np.float32)
    example = (torch.from_numpy(left)[None, None], torch.from_numpy(right)[None, None])
    path = os.path.join(out, "block_matcher.onnx")
    torch.onnx.export(model, example, path, input_names=["left", "right"], output_names=["disparity"], opset_version=13,
                      dynamic_axes={"left": {2: "h", 3: "w"}, "right": {2: "h", 3: "w"}, "disparity": {2: "h", 3: "w"}})
    with torch.no_grad():
        reference = model(*example)[0, 0].numpy()
    for name, a in (("block_matcher_left.tif", left), ("block_matcher_right.tif", right), ("block_matcher_reference.tif", reference)):
        with rasterio.open(os.path.join(out, name), "w", **profile) as dst:
            dst.write(a.astype(np.float32), 1)
    print(path, os.path.getsize(path), "bytes; disparities", float(reference.min()), "to", float(reference.max()))


if __name__ == "__main__":
    main()
