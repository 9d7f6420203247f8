#!/usr/bin/python3
"""Build the small reference networks used by luojia's ONNX inference tests.

Run from the repository root (CPU only, a few seconds):

    /usr/bin/python3 tools/make_reference_models.py

Needs Debian's python3-torch (1.13), python3-onnx (1.12) and python3-numpy.
Writes into tests/data/nn/:

  <model>_op<N>.onnx            the model exported at ONNX opset N (11, 13, 17)
  <model>_<case>_input.f32      raw little-endian float32 input, no header
  <model>_<case>_<input>.f32    the same, for models with several named inputs
  <model>_<case>_<output>.f32   PyTorch's output (float32), or .i64 (int64)
  manifest.json                 models, files, shapes, dtypes (read by the C++ tests)

Everything is deterministic (torch.manual_seed(0) per model, fixed input
seeds).  BatchNorm layers carry randomised running statistics and affine
parameters so that BN folding is really exercised.  One set of inputs and
PyTorch outputs is shared by all opsets of a model.

After writing, the script checks every file: onnx.checker (at export; onnx
1.12 accepts the custom op model with a warning), the op types per file, and an independent
numpy evaluation of every exported graph that must reproduce the PyTorch
outputs; for the tileable models it also checks that running on a crop with
`halo` pixels of context reproduces the crop's centre of the full-image
output.  Pass --no-verify to skip the numpy evaluation.

    --only NAME[,NAME...]   rebuild (and verify) only these models; the other
                            models' entries are kept from the existing
                            manifest.json, which is rewritten in MODELS order
                            (the result equals that of a full run).
"""

import argparse
import io
import json
import math
import os
import re
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "tests", "data", "nn"))
OPSETS = (11, 13, 17)

CUSTOM_DOMAIN = "luojia.test"
CUSTOM_OP = "ScaledTanh"
CUSTOM_ALPHA = 1.7
CUSTOM_BETA = 0.5


# --------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------

def conv_bn_relu(cin, cout, k=3, stride=1, padding=1, dilation=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=padding,
                  dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=False),
    )


def randomise_batchnorm(model, seed):
    """Give every BatchNorm non-trivial statistics and affine parameters."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.rand(c, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_((torch.rand(c, generator=g) - 0.5) * 0.6)
            m.eps = 1e-5


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------

class UNet(nn.Module):
    """4 -> 3 class logits; three 2x down levels; widths 8, 12, 16, 24.

    Decoder upsamples with bilinear (half-pixel) interpolation to the skip's
    size, which exports as Shape/Slice/Concat feeding Resize (sizes)."""

    widths = (8, 12, 16, 24)

    def __init__(self, cin=4, ncls=3):
        super().__init__()
        w = self.widths

        def block(a, b):
            return nn.Sequential(conv_bn_relu(a, b), conv_bn_relu(b, b))

        self.enc = nn.ModuleList([block(cin, w[0]), block(w[0], w[1]),
                                  block(w[1], w[2])])
        self.bottleneck = block(w[2], w[3])
        self.dec = nn.ModuleList([block(w[3] + w[2], w[2]),
                                  block(w[2] + w[1], w[1]),
                                  block(w[1] + w[0], w[0])])
        self.head = nn.Conv2d(w[0], ncls, 1)

    def forward(self, x):
        skips = []
        for enc in self.enc:
            x = enc(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for dec, skip in zip(self.dec, reversed(skips)):
            x = F.interpolate(x, size=skip.shape[2:], mode="bilinear",
                              align_corners=False)
            x = dec(torch.cat([skip, x], dim=1))
        return self.head(x)


class DeepLabLite(nn.Module):
    """4 -> 5 classes: stride-2 stem, atrous branches (dilation 2, 4), an
    image-pooling branch broadcast back by bilinear Resize, 1x1 head, final
    x2 bilinear upsample with align_corners=True."""

    def __init__(self, cin=4, ncls=5, w=16):
        super().__init__()
        self.stem = nn.Sequential(conv_bn_relu(cin, w, stride=2),
                                  conv_bn_relu(w, w))
        self.atrous2 = conv_bn_relu(w, w, padding=2, dilation=2)
        self.atrous4 = conv_bn_relu(w, w, padding=4, dilation=4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pool_conv = nn.Conv2d(w, w, 1)
        self.project = conv_bn_relu(3 * w, w, k=1, padding=0)
        self.head = nn.Conv2d(w, ncls, 1)

    def forward(self, x):
        f = self.stem(x)
        g = F.relu(self.pool_conv(self.pool(f)))
        g = F.interpolate(g, size=f.shape[2:], mode="bilinear",
                          align_corners=False)
        y = torch.cat([self.atrous2(f), self.atrous4(f), g], dim=1)
        y = self.head(self.project(y))
        return F.interpolate(y, scale_factor=2, mode="bilinear",
                             align_corners=True)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = conv_bn_relu(cin, cout, stride=stride)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                nn.BatchNorm2d(cout))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        y = self.bn2(self.conv2(self.conv1(x)))
        return F.relu(y + self.shortcut(x))


class ResNetClassifier(nn.Module):
    """4 -> 6 class probabilities (N, 6): GlobalAveragePool, Flatten, Gemm,
    Softmax."""

    def __init__(self, cin=4, ncls=6):
        super().__init__()
        self.stem = conv_bn_relu(cin, 16)
        self.block1 = BasicBlock(16, 16, 1)
        self.block2 = BasicBlock(16, 24, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(24, ncls)

    def forward(self, x):
        x = self.block2(self.block1(self.stem(x)))
        x = torch.flatten(self.pool(x), 1)
        return torch.softmax(self.fc(x), dim=1)


class SqueezeExcite(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, c // r, 1)
        self.fc2 = nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        s = F.relu(self.fc1(self.pool(x)))
        return x * F.hardsigmoid(self.fc2(s))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cexp, cout, stride, act, se):
        super().__init__()
        self.expand = nn.Sequential(nn.Conv2d(cin, cexp, 1, bias=False),
                                    nn.BatchNorm2d(cexp), act())
        self.dw = nn.Sequential(nn.Conv2d(cexp, cexp, 3, stride=stride,
                                          padding=1, groups=cexp, bias=False),
                                nn.BatchNorm2d(cexp), act())
        self.se = SqueezeExcite(cexp) if se else nn.Identity()
        self.project = nn.Sequential(nn.Conv2d(cexp, cout, 1, bias=False),
                                     nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.project(self.se(self.dw(self.expand(x))))
        return x + y if self.residual else y


class MobileNetLite(nn.Module):
    """3 -> 4 classes: stride-2 stem (BN, ReLU6), inverted residuals with
    depthwise 3x3, HardSwish, squeeze-excite (Hardsigmoid, Mul), final 1x1 and
    nearest x2 upsample."""

    def __init__(self, cin=3, ncls=4):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(cin, 16, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(16), nn.ReLU6())
        self.block1 = InvertedResidual(16, 32, 16, 1, nn.ReLU6, se=False)
        self.block2 = InvertedResidual(16, 48, 24, 1, nn.Hardswish, se=True)
        self.head = nn.Conv2d(24, ncls, 1)

    def forward(self, x):
        x = self.head(self.block2(self.block1(self.stem(x))))
        return F.interpolate(x, scale_factor=2, mode="nearest")


class ConvTransposeDecoder(nn.Module):
    """2 -> 2: two stride-2 convs (LeakyReLU 0.1, per-channel PReLU), a
    ConvTranspose2d(k4 s2 p1) + Tanh, a reflect Pad, AvgPool(3, s1, p1) and a
    crop back (Slice), ConvTranspose2d(k3 s2 p1 output_padding 1) + Sigmoid.
    Output size equals input size for H, W divisible by 4."""

    def __init__(self, cin=2, cout=2):
        super().__init__()
        self.down1 = nn.Conv2d(cin, 8, 3, stride=2, padding=1)
        self.act1 = nn.LeakyReLU(0.1)
        self.down2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.act2 = nn.PReLU(16)
        self.up1 = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        self.smooth = nn.AvgPool2d(3, stride=1, padding=1)
        self.up2 = nn.ConvTranspose2d(8, cout, 3, stride=2, padding=1,
                                      output_padding=1)

    def forward(self, x):
        x = self.act1(self.down1(x))
        x = self.act2(self.down2(x))
        x = torch.tanh(self.up1(x))
        x = F.pad(x, (1, 2, 0, 1), mode="reflect")
        x = self.smooth(x)
        x = x[:, :, :-1, 1:-2]
        return torch.sigmoid(self.up2(x))


class MiscOps(nn.Module):
    """3 -> 5 channels (+ argmax): Abs, broadcast Sub/Div by (1,C,1,1)
    constants, Transpose, Flatten/Reshape with a dynamic shape, MatMul over
    channels, Dropout (eval), ArgMax as a second int64 output."""

    def __init__(self, cin=3, cout=5):
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.register_buffer("mean", torch.tensor([0.3, -0.2, 0.7]).view(1, cin, 1, 1))
        self.register_buffer("std", torch.tensor([1.5, 0.8, 2.5]).view(1, cin, 1, 1))
        self.register_buffer("gain", (torch.rand(1, cin, 1, generator=g) + 0.5))
        self.weight = nn.Parameter(torch.randn(cin, cout, generator=g))
        self.dropout = nn.Dropout(p=0.5)

    def forward(self, x):
        y = (x.abs() - self.mean) / self.std
        y = y.permute(0, 1, 3, 2)
        y = y * 2.0 - 1.0
        y = y.permute(0, 1, 3, 2)
        f = y.flatten(2) * self.gain          # (N, C, H*W)
        y = f.reshape(x.shape)                # back to (N, C, H, W)
        z = torch.matmul(y.permute(0, 2, 3, 1), self.weight)  # (N, H, W, 5)
        z = self.dropout(z.permute(0, 3, 1, 2))
        return z, torch.argmax(z, dim=1, keepdim=True)


class CustomOpNet(nn.Module):
    """2 -> 2: conv 3x3 -> luojia.test::ScaledTanh(alpha=1.7, beta=0.5) ->
    conv 1x1.  With export=True the activation is a plain Tanh, replaced in the
    ONNX graph afterwards by the custom node."""

    def __init__(self, cin=2, cout=2, w=8):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, w, 3, padding=1)
        self.conv2 = nn.Conv2d(w, cout, 1)
        self.export = False

    def forward(self, x):
        x = self.conv1(x)
        if self.export:
            x = torch.tanh(x)
        else:
            x = CUSTOM_ALPHA * torch.tanh(CUSTOM_BETA * x)
        return self.conv2(x)


class SiameseChange(nn.Module):
    """Two inputs `before`, `after` (3 bands each) -> 2 change logits
    (no change / change).  A shared encoder (the same weights run on both
    dates: two Conv3x3+BN+ReLU, width 8) is fused by concatenating both
    feature maps and their absolute difference, then Conv3x3+ReLU and a 1x1
    head.  Stride 1 everywhere, no pooling: translation-equivariant."""

    def __init__(self, cin=3, ncls=2, w=8):
        super().__init__()
        self.encoder = nn.Sequential(conv_bn_relu(cin, w), conv_bn_relu(w, w))
        self.fuse = nn.Conv2d(3 * w, w, 3, padding=1)
        self.head = nn.Conv2d(w, ncls, 1)

    def forward(self, before, after):
        fa = self.encoder(before)
        fb = self.encoder(after)
        y = torch.cat([fa, fb, (fa - fb).abs()], dim=1)
        return self.head(F.relu(self.fuse(y)))


# --------------------------------------------------------------------------
# analytic receptive fields (interior, aligned tiles), in input pixels
# --------------------------------------------------------------------------
# Each helper maps an interval [lo, hi] of indices needed at a layer's output
# to the interval needed at its input (along one axis; all kernels square).

def _conv(iv, k, s=1, p=0, d=1):
    lo, hi = iv
    return (lo * s - p, hi * s - p + (k - 1) * d)


def _pool2(iv):
    lo, hi = iv
    return (2 * lo, 2 * hi + 1)


def _up2_bilinear_half_pixel(iv):
    # output o reads src floor(o/2 - 0.25) and the one after it
    lo, hi = iv
    return (math.floor(lo / 2 - 0.25), math.floor(hi / 2 - 0.25) + 1)


def _convT(iv, k, s, p):
    # output o = i*s - p + t, t in [0, k)
    lo, hi = iv
    return (math.ceil((lo + p - (k - 1)) / s), math.floor((hi + p) / s))


def _union(a, b):
    return (min(a[0], b[0]), max(a[1], b[1]))


def unet_interval(iv):
    def enc(level, iv):                   # interval at enc[level] output
        iv = _conv(_conv(iv, 3, p=1), 3, p=1)
        return iv if level == 0 else enc(level - 1, _pool2(iv))

    def bottleneck(iv):
        return enc(2, _pool2(_conv(_conv(iv, 3, p=1), 3, p=1)))

    def dec(level, iv):                   # interval at decoder output, level
        iv = _conv(_conv(iv, 3, p=1), 3, p=1)
        up = _up2_bilinear_half_pixel(iv)
        deeper = bottleneck(up) if level == 2 else dec(level + 1, up)
        return _union(enc(level, iv), deeper)

    return dec(0, _conv(iv, 1))


def convtranspose_interval(iv):
    iv = _convT(iv, 3, 2, 1)              # up2
    iv = (iv[0] - 1, iv[1] + 1)           # crop/pad/avgpool (interior)
    iv = _convT(iv, 4, 2, 1)              # up1
    iv = _conv(iv, 3, 2, 1)               # down2
    return _conv(iv, 3, 2, 1)             # down1


def custom_interval(iv):
    return _conv(_conv(iv, 1), 3, p=1)


def misc_interval(iv):
    return iv


def siamese_interval(iv):
    iv = _conv(iv, 1)                     # head 1x1
    iv = _conv(iv, 3, p=1)                # fuse 3x3 (Concat/Sub/Abs: pointwise)
    iv = _conv(iv, 3, p=1)                # encoder conv 2
    return _conv(iv, 3, p=1)              # encoder conv 1 (both branches)


def halo_of(interval_fn, alignment):
    """Largest one-sided reach over all output phases of the alignment."""
    base = 1000 * alignment
    reach = 0
    for ph in range(alignment):
        p = base + ph
        lo, hi = interval_fn((p, p))
        reach = max(reach, p - lo, hi - p)
    return reach


# --------------------------------------------------------------------------
# model table
# --------------------------------------------------------------------------

SPATIAL = {2: "oh", 3: "ow"}

MODELS = [
    dict(name="unet", cls=UNet, outputs=["output"], spatial=[True],
         shapes=[(1, 4, 32, 32), (1, 4, 37, 45), (1, 4, 16, 24)],
         tileable=True, interval=unet_interval, alignment=8,
         ops="Conv+BN+ReLU, MaxPool, bilinear Resize to skip size "
             "(half_pixel; sizes from Shape/Slice/Concat), Concat"),
    dict(name="deeplab", cls=DeepLabLite, outputs=["output"], spatial=[True],
         shapes=[(1, 4, 33, 40), (1, 4, 24, 24)],
         tileable=False,
         ops="strided and dilated (2, 4) Conv+BN+ReLU, GlobalAveragePool, "
             "bilinear Resize 1x1 -> HxW, Concat, bilinear x2 Resize "
             "align_corners"),
    dict(name="resnet_classifier", cls=ResNetClassifier, outputs=["output"],
         spatial=[False], shapes=[(1, 4, 32, 32), (1, 4, 29, 35)],
         tileable=False,
         ops="Conv+BN+ReLU, residual Add, strided 1x1 projection, "
             "GlobalAveragePool, Flatten, Gemm, Softmax"),
    dict(name="mobilenet", cls=MobileNetLite, outputs=["output"],
         spatial=[True], shapes=[(1, 3, 32, 32), (1, 3, 27, 41)],
         tileable=False,
         ops="Conv+BN, ReLU6 (Clip), depthwise Conv (group=C), HardSwish, "
             "squeeze-excite (GlobalAveragePool, HardSigmoid, Mul), residual "
             "Add, nearest x2 Resize"),
    dict(name="convtranspose_decoder", cls=ConvTransposeDecoder,
         outputs=["output"], spatial=[True],
         shapes=[(1, 2, 32, 32), (1, 2, 36, 20)],
         tileable=True, interval=convtranspose_interval, alignment=4,
         ops="strided Conv, LeakyRelu, PRelu (per channel), ConvTranspose "
             "(k4 s2 p1; k3 s2 p1 output_padding 1), Tanh, reflect Pad, "
             "AveragePool (count_include_pad), Slice, Sigmoid"),
    dict(name="misc_ops", cls=MiscOps, outputs=["output", "argmax"],
         spatial=[True, True], shapes=[(1, 3, 9, 13), (1, 3, 16, 16)],
         tileable=True, interval=misc_interval, alignment=1,
         ops="Abs, broadcast Sub/Div/Mul/Add, Transpose, Flatten/Reshape "
             "(dynamic shape), MatMul, Dropout (eval), ArgMax (int64 output)"),
    dict(name="custom_op", cls=CustomOpNet, outputs=["output"],
         spatial=[True], shapes=[(1, 2, 15, 17)],
         tileable=True, interval=custom_interval, alignment=1, custom=True,
         ops="Conv, custom luojia.test::ScaledTanh(alpha=1.7, beta=0.5)"),
    dict(name="siamese_change", cls=SiameseChange, inputs=["before", "after"],
         outputs=["change"], spatial=[True],
         shapes=[(1, 3, 23, 31), (1, 3, 16, 20)],
         tileable=True, interval=siamese_interval, alignment=1,
         ops="two inputs, shared-weight encoder (Conv+BN+ReLU twice), Sub, "
             "Abs, Concat, Conv+ReLU, 1x1 Conv"),
]


def input_names(spec):
    return spec.get("inputs", ["input"])


def build(spec):
    torch.manual_seed(0)
    model = spec["cls"]()
    randomise_batchnorm(model, 1234)
    model.eval()
    return model


def make_inputs(spec):
    """One list of input tensors (in input_names order) per case."""
    g = torch.Generator().manual_seed(
        sum(ord(c) for c in spec["name"]) * 7919)
    names = input_names(spec)
    if len(names) == 1:
        return [[torch.randn(*s, generator=g) * 2 + 0.5]
                for s in spec["shapes"]]
    # several dates of one scene: every further input is the first one,
    # slightly perturbed, with a rectangle replaced by new content (a
    # "change"), so that |fa - fb| has both small and large values
    cases = []
    for s in spec["shapes"]:
        first = torch.randn(*s, generator=g) * 2 + 0.5
        xs = [first]
        h, w = s[2], s[3]
        for k in range(1, len(names)):
            x = first * 0.9 + torch.randn(*s, generator=g) * 0.3
            y0, x0 = h // 4 + k, w // 3
            new = torch.randn(*s, generator=g) * 2 + 0.5
            x[:, :, y0:y0 + h // 3, x0:x0 + w // 3] = \
                new[:, :, y0:y0 + h // 3, x0:x0 + w // 3]
            xs.append(x)
        cases.append(xs)
    return cases


def dynamic_axes(spec):
    axes = {name: {2: "h", 3: "w"} for name in input_names(spec)}
    for name, spatial in zip(spec["outputs"], spec["spatial"]):
        if spatial:
            axes[name] = dict(SPATIAL)
    return axes


def export(model, spec, example, opset):
    """example: the list of input tensors of one case."""
    buf = io.BytesIO()
    torch.onnx.export(model, tuple(example), buf, opset_version=opset,
                      input_names=input_names(spec),
                      output_names=spec["outputs"],
                      dynamic_axes=dynamic_axes(spec),
                      do_constant_folding=True,
                      # EVAL (the default) would fuse every BatchNorm into
                      # the preceding Conv; PRESERVE keeps BatchNormalization
                      # nodes (inference form, the model is in eval()).
                      training=torch.onnx.TrainingMode.PRESERVE)
    return onnx.load_from_string(buf.getvalue())


def make_custom(proto):
    """Replace the single Tanh with luojia.test::ScaledTanh."""
    tanhs = [i for i, n in enumerate(proto.graph.node) if n.op_type == "Tanh"]
    assert len(tanhs) == 1, tanhs
    i = tanhs[0]
    old = proto.graph.node[i]
    new = helper.make_node(CUSTOM_OP, list(old.input), list(old.output),
                           name="scaled_tanh_0", domain=CUSTOM_DOMAIN,
                           alpha=CUSTOM_ALPHA, beta=CUSTOM_BETA)
    proto.graph.node.remove(old)
    proto.graph.node.insert(i, new)
    proto.opset_import.append(helper.make_opsetid(CUSTOM_DOMAIN, 1))
    return proto


def write_raw(path, array):
    array = np.ascontiguousarray(array)
    if array.dtype == np.float32:
        array = array.astype("<f4", copy=False)
    elif array.dtype == np.int64:
        array = array.astype("<i8", copy=False)
    else:
        raise TypeError(array.dtype)
    with open(path, "wb") as f:
        f.write(array.tobytes())


def generate(only=None):
    """Build every model, or only those named in `only` (the other entries
    of manifest.json are then kept as they are).  Returns the manifest."""
    os.makedirs(OUT_DIR, exist_ok=True)
    old = {}
    if only:
        with open(os.path.join(OUT_DIR, "manifest.json")) as f:
            old = {e["name"]: e for e in json.load(f)["models"]}
    manifest = {"models": []}
    for spec in MODELS:
        name = spec["name"]
        if only and name not in only:
            if name in old:
                manifest["models"].append(old[name])
            else:
                print(f"note: {name} not in manifest.json and not rebuilt")
            continue
        custom = spec.get("custom", False)
        model = build(spec)
        inputs = make_inputs(spec)

        # reference outputs (from PyTorch, the real custom function)
        cases = []
        names = input_names(spec)
        for ci, xs in enumerate(inputs):
            with torch.no_grad():
                outs = model(*xs)
            if not isinstance(outs, tuple):
                outs = (outs,)
            if len(names) == 1:
                in_file = f"{name}_{ci}_input.f32"
                write_raw(os.path.join(OUT_DIR, in_file), xs[0].numpy())
                case = {"input": {"file": in_file,
                                  "shape": list(xs[0].shape)}}
            else:
                case = {"inputs": []}
                for iname, x in zip(names, xs):
                    in_file = f"{name}_{ci}_{iname}.f32"
                    write_raw(os.path.join(OUT_DIR, in_file), x.numpy())
                    case["inputs"].append({"name": iname, "file": in_file,
                                           "shape": list(x.shape)})
            case["outputs"] = []
            for oname, o in zip(spec["outputs"], outs):
                a = o.numpy()
                if a.dtype == np.int64:
                    ext, dtype = "i64", "int64"
                else:
                    a = a.astype(np.float32)
                    ext, dtype = "f32", "float32"
                ofile = f"{name}_{ci}_{oname}.{ext}"
                write_raw(os.path.join(OUT_DIR, ofile), a)
                case["outputs"].append({"name": oname, "file": ofile,
                                        "shape": list(a.shape),
                                        "type": dtype})
            cases.append(case)

        # exports
        if custom:
            model.export = True
        files = []
        for opset in OPSETS:
            fname = f"{name}_op{opset}.onnx"
            try:
                proto = export(model, spec, inputs[0], opset)
                if custom:
                    proto = make_custom(proto)
                    try:   # onnx 1.12 accepts it, with a warning
                        onnx.checker.check_model(proto)
                    except onnx.checker.ValidationError as e:
                        print(f"note: checker rejects {fname}: {e}")
                else:
                    onnx.checker.check_model(proto)
            except Exception as e:  # noqa: BLE001
                print(f"SKIP {fname}: {type(e).__name__}: {e}")
                continue
            onnx.save(proto, os.path.join(OUT_DIR, fname))
            files.append(fname)
        if custom:
            model.export = False

        entry = {"name": name, "files": files, "custom": custom,
                 "tileable": spec["tileable"]}
        if spec["tileable"]:
            halo = halo_of(spec["interval"], spec["alignment"])
            entry["receptive_field"] = 2 * halo + 1
            entry["halo"] = halo
            entry["tile_alignment"] = spec["alignment"]
        entry["cases"] = cases
        manifest["models"].append(entry)
        print(f"{name}: {len(files)} exports, {len(cases)} cases"
              + (f", halo {entry['halo']}" if spec["tileable"] else ""))

    text = json.dumps(manifest, indent=1)
    # keep shape lists on one line
    text = re.sub(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]",
                  lambda m: "[" + ", ".join(re.split(r",\s*", m.group(1))) + "]",
                  text)
    with open(os.path.join(OUT_DIR, "manifest.json"), "w") as f:
        f.write(text + "\n")
    return manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--only", metavar="NAME[,NAME...]",
                    help="rebuild only these models (default: all)")
    args = ap.parse_args()
    only = None
    if args.only:
        only = set(args.only.split(","))
        unknown = only - {s["name"] for s in MODELS}
        if unknown:
            ap.error("unknown model(s): " + ", ".join(sorted(unknown)))
    manifest = generate(only)
    if not args.no_verify:
        ok = verify(manifest, only)
        if not ok:
            sys.exit(1)


# --------------------------------------------------------------------------
# verification: an independent numpy evaluator of the exported graphs
# --------------------------------------------------------------------------

def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _np_type(onnx_type):
    t = onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[onnx_type]
    return np.float64 if t in (np.float32, np.float16) else t


def _pool_windows(x, k, s, pads, d=(1, 1), fill=0.0):
    """Yield strided views x_pad[..., i*d::s] over the kernel offsets."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])),
                constant_values=fill)
    hp, wp = xp.shape[2:]
    oh = (hp - ((k[0] - 1) * d[0] + 1)) // s[0] + 1
    ow = (wp - ((k[1] - 1) * d[1] + 1)) // s[1] + 1
    for i in range(k[0]):
        for j in range(k[1]):
            y0, x0 = i * d[0], j * d[1]
            yield i, j, xp[:, :, y0:y0 + (oh - 1) * s[0] + 1:s[0],
                           x0:x0 + (ow - 1) * s[1] + 1:s[1]]


def _np_conv(x, w, b, a):
    k = w.shape[2:]
    s = a.get("strides", [1, 1])
    d = a.get("dilations", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    assert a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
    g = a.get("group", 1)
    cin_g = x.shape[1] // g
    cout_g = w.shape[0] // g
    out = None
    for i, j, v in _pool_windows(x, k, s, pads, d):
        parts = [np.einsum("nchw,oc->nohw", v[:, gi * cin_g:(gi + 1) * cin_g],
                           w[gi * cout_g:(gi + 1) * cout_g, :, i, j])
                 for gi in range(g)]
        t = np.concatenate(parts, axis=1)
        out = t if out is None else out + t
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


def _np_conv_transpose(x, w, b, a):
    k = w.shape[2:]
    s = a.get("strides", [1, 1])
    d = a.get("dilations", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    op = a.get("output_padding", [0, 0])
    assert a.get("group", 1) == 1 and "output_shape" not in a
    n, _, h, wd = x.shape
    full = [s[0] * (h - 1) + (k[0] - 1) * d[0] + 1 + op[0],
            s[1] * (wd - 1) + (k[1] - 1) * d[1] + 1 + op[1]]
    out = np.zeros((n, w.shape[1], full[0], full[1]))
    for i in range(k[0]):
        for j in range(k[1]):
            y0, x0 = i * d[0], j * d[1]
            out[:, :, y0:y0 + (h - 1) * s[0] + 1:s[0],
                x0:x0 + (wd - 1) * s[1] + 1:s[1]] += \
                np.einsum("nchw,co->nohw", x, w[:, :, i, j])
    oh = full[0] - pads[0] - pads[2]
    ow = full[1] - pads[1] - pads[3]
    out = out[:, :, pads[0]:pads[0] + oh, pads[1]:pads[1] + ow]
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


def _np_pool(x, a, kind):
    k = a["kernel_shape"]
    s = a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    assert a.get("ceil_mode", 0) == 0
    if kind == "max":
        return np.max([v for _, _, v in _pool_windows(x, k, s, pads,
                                                      fill=-np.inf)], axis=0)
    total = sum(v for _, _, v in _pool_windows(x, k, s, pads))
    if a.get("count_include_pad", 0):
        return total / (k[0] * k[1])
    count = sum(v for _, _, v in _pool_windows(np.ones_like(x), k, s, pads))
    return total / count


def _resize_axis(x, axis, out_len, scale, a):
    """1-D Resize along axis (linear or nearest)."""
    in_len = x.shape[axis]
    if out_len == in_len and scale == 1.0:
        return x
    mode = a.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    ctm = a.get("coordinate_transformation_mode", b"half_pixel")
    ctm = ctm.decode() if isinstance(ctm, bytes) else ctm
    o = np.arange(out_len, dtype=np.float64)
    if ctm == "half_pixel":
        src = (o + 0.5) / scale - 0.5
    elif ctm == "pytorch_half_pixel":
        src = (o + 0.5) / scale - 0.5 if out_len > 1 else np.zeros_like(o)
    elif ctm == "align_corners":
        src = o * (in_len - 1) / (out_len - 1) if out_len > 1 else 0 * o
    elif ctm == "asymmetric":
        src = o / scale
    else:
        raise NotImplementedError(ctm)
    if mode == "nearest":
        nm = a.get("nearest_mode", b"round_prefer_floor")
        nm = nm.decode() if isinstance(nm, bytes) else nm
        if nm == "floor":
            idx = np.floor(src)
        elif nm == "ceil":
            idx = np.ceil(src)
        elif nm == "round_prefer_floor":
            idx = np.ceil(src - 0.5)
        else:
            idx = np.floor(src + 0.5)
        idx = np.clip(idx, 0, in_len - 1).astype(np.int64)
        return np.take(x, idx, axis=axis)
    assert mode == "linear", mode
    src = np.clip(src, 0, in_len - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, in_len - 1)
    f = src - i0
    shape = [1] * x.ndim
    shape[axis] = out_len
    f = f.reshape(shape)
    return np.take(x, i0, axis=axis) * (1 - f) + np.take(x, i1, axis=axis) * f


def _resize(x, roi, scales, sizes, a):
    if sizes is not None and sizes.size:
        sizes = [int(v) for v in sizes]
        scales = [sizes[i] / x.shape[i] for i in range(x.ndim)]
    else:
        scales = [float(v) for v in scales]
        sizes = [int(math.floor(x.shape[i] * scales[i])) for i in range(x.ndim)]
    for ax in range(x.ndim):
        if sizes[ax] != x.shape[ax] or scales[ax] != 1.0:
            assert ax >= 2, "Resize over N or C"
            x = _resize_axis(x, ax, sizes[ax], scales[ax], a)
    return x


def _slice(x, starts, ends, axes, steps):
    axes = list(range(len(starts))) if axes is None else list(axes)
    steps = [1] * len(starts) if steps is None else list(steps)
    idx = [slice(None)] * x.ndim
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        idx[ax] = slice(int(st), int(en), int(sp))
    return x[tuple(idx)]


def _reshape(x, shape):
    shape = [int(v) for v in shape]
    shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return x.reshape(shape)


def _softmax(x, axis, opset):
    if opset < 13:
        axis = axis % x.ndim
        x2 = x.reshape(int(np.prod(x.shape[:axis])), -1)
        e = np.exp(x2 - x2.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).reshape(x.shape)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def run_onnx(proto, feeds):
    """Evaluate a graph with numpy in float64.  Returns {name: array}."""
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    env = {}
    for t in proto.graph.initializer:
        a = numpy_helper.to_array(t)
        env[t.name] = a.astype(np.float64) if a.dtype == np.float32 else a
    for k, v in feeds.items():
        env[k] = v.astype(np.float64) if v.dtype == np.float32 else v
    env[""] = None

    for node in proto.graph.node:
        a = _attrs(node)
        ins = [env[i] if i else None for i in node.input]
        x = ins[0] if ins else None
        t = node.op_type
        if node.domain == CUSTOM_DOMAIN and t == CUSTOM_OP:
            y = a["alpha"] * np.tanh(a["beta"] * x)
        elif node.domain not in ("", "ai.onnx"):
            raise NotImplementedError(f"{node.domain}::{t}")
        elif t == "Constant":
            y = numpy_helper.to_array(a["value"])
            y = y.astype(np.float64) if y.dtype == np.float32 else y
        elif t == "ConstantOfShape":
            v = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
            y = np.full([int(s) for s in x], v.reshape(-1)[0], dtype=_np_type(a["value"].data_type) if "value" in a else np.float64)
        elif t == "Conv":
            y = _np_conv(x, ins[1], ins[2] if len(ins) > 2 else None, a)
        elif t == "ConvTranspose":
            y = _np_conv_transpose(x, ins[1], ins[2] if len(ins) > 2 else None, a)
        elif t == "BatchNormalization":
            assert a.get("training_mode", 0) == 0 and len(node.output) == 1
            sc, bi, mu, var = (v.reshape(1, -1, 1, 1) for v in ins[1:5])
            y = (x - mu) / np.sqrt(var + a.get("epsilon", 1e-5)) * sc + bi
        elif t == "Relu":
            y = np.maximum(x, 0)
        elif t == "LeakyRelu":
            y = np.where(x >= 0, x, x * a.get("alpha", 0.01))
        elif t == "PRelu":
            y = np.where(x >= 0, x, x * ins[1])
        elif t == "Sigmoid":
            y = 1 / (1 + np.exp(-x))
        elif t == "Tanh":
            y = np.tanh(x)
        elif t == "Clip":
            lo = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("min", -np.inf)
            hi = ins[2] if len(ins) > 2 and ins[2] is not None else a.get("max", np.inf)
            y = np.clip(x, lo, hi)
        elif t == "HardSigmoid":
            y = np.clip(a.get("alpha", 0.2) * x + a.get("beta", 0.5), 0, 1)
        elif t == "HardSwish":
            y = x * np.clip(x / 6 + 0.5, 0, 1)
        elif t in ("Add", "Sub", "Mul", "Div"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                 "Div": np.divide}[t]
            y = f(x, ins[1])
            if np.issubdtype(x.dtype, np.integer) and t == "Div":
                y = (x // ins[1]).astype(x.dtype)
        elif t == "Abs":
            y = np.abs(x)
        elif t == "Concat":
            y = np.concatenate([np.atleast_1d(v) for v in ins], axis=a["axis"])
        elif t == "MaxPool":
            assert len(node.output) == 1
            y = _np_pool(x, a, "max")
        elif t == "AveragePool":
            y = _np_pool(x, a, "avg")
        elif t == "GlobalAveragePool":
            y = x.mean(axis=(2, 3), keepdims=True)
        elif t == "Resize":
            y = _resize(x, ins[1] if len(ins) > 1 else None,
                        ins[2] if len(ins) > 2 else None,
                        ins[3] if len(ins) > 3 else None, a)
        elif t == "Pad":
            pads = [int(v) for v in (ins[1] if len(ins) > 1 else a["pads"])]
            mode = a.get("mode", b"constant")
            mode = mode.decode() if isinstance(mode, bytes) else mode
            nd = x.ndim
            assert min(pads) >= 0
            width = [(pads[i], pads[i + nd]) for i in range(nd)]
            if mode == "constant":
                cv = ins[2] if len(ins) > 2 and ins[2] is not None else a.get("value", 0.0)
                y = np.pad(x, width, constant_values=float(np.asarray(cv).reshape(-1)[0]) if np.size(cv) else 0.0)
            else:
                y = np.pad(x, width, mode={"reflect": "reflect", "edge": "edge"}[mode])
        elif t == "Softmax":
            y = _softmax(x, a.get("axis", 1 if opset < 13 else -1), opset)
        elif t == "ArgMax":
            assert a.get("select_last_index", 0) == 0
            y = np.argmax(x, axis=a.get("axis", 0)).astype(np.int64)
            if a.get("keepdims", 1):
                y = np.expand_dims(y, a.get("axis", 0))
        elif t == "Flatten":
            ax = a.get("axis", 1)
            y = x.reshape(int(np.prod(x.shape[:ax])), -1)
        elif t == "Reshape":
            y = _reshape(x, ins[1])
        elif t == "Transpose":
            y = np.transpose(x, a.get("perm"))
        elif t == "Gemm":
            A = x.T if a.get("transA", 0) else x
            B = ins[1].T if a.get("transB", 0) else ins[1]
            y = a.get("alpha", 1.0) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
        elif t == "MatMul":
            y = np.matmul(x, ins[1])
        elif t in ("Identity", "Dropout"):
            y = x
        elif t == "Shape":
            y = np.array(x.shape, dtype=np.int64)[a.get("start", 0):a.get("end", None)]
        elif t == "Gather":
            y = np.take(x, ins[1], axis=a.get("axis", 0))
        elif t == "Unsqueeze":
            axes = a["axes"] if "axes" in a else [int(v) for v in ins[1]]
            y = np.asarray(x)
            nd = y.ndim + len(axes)
            for ax in sorted(ax % nd for ax in axes):
                y = np.expand_dims(y, ax)
        elif t == "Squeeze":
            axes = a.get("axes") if len(ins) < 2 else [int(v) for v in ins[1]]
            y = np.squeeze(x, axis=tuple(axes) if axes is not None else None)
        elif t == "Slice":
            if len(ins) > 1:
                y = _slice(x, ins[1], ins[2], ins[3] if len(ins) > 3 else None,
                           ins[4] if len(ins) > 4 else None)
            else:
                y = _slice(x, a["starts"], a["ends"], a.get("axes"), None)
        elif t == "Cast":
            y = np.asarray(x).astype(_np_type(a["to"]))
        else:
            raise NotImplementedError(t)
        assert len(node.output) == 1, (t, node.output)
        env[node.output[0]] = np.asarray(y)
    return {o.name: env[o.name] for o in proto.graph.output}


def read_raw(path, dtype, shape):
    return np.fromfile(path, dtype=dtype).reshape(shape)


def case_feeds(case):
    """{input name: array} for one manifest case (`input` or `inputs`)."""
    ins = case["inputs"] if "inputs" in case else \
        [dict(case["input"], name="input")]
    return {i["name"]: read_raw(os.path.join(OUT_DIR, i["file"]), "<f4",
                                i["shape"]) for i in ins}


def tiling_check(spec):
    """Run PyTorch on a full image and on a crop with `halo` context (rounded
    up to the alignment); the crop's centre must match the full output."""
    model = build(spec)
    al = spec["alignment"]
    halo = halo_of(spec["interval"], al)
    ctx = -(-halo // al) * al
    tile = 4 * al if al > 1 else 7
    size = tile + 2 * ctx + 2 * max(al, 8)
    g = torch.Generator().manual_seed(99)
    cin = spec["shapes"][0][1]
    xs = [torch.randn(1, cin, size, size + al, generator=g) * 2 + 0.5
          for _ in input_names(spec)]
    y0 = x0 = ctx + max(al, 8)

    def centre(context):
        crops = [x[:, :, y0 - context:y0 + tile + context,
                   x0 - context:x0 + tile + context] for x in xs]
        with torch.no_grad():
            full = model(*xs)
            part = model(*crops)
        full = full[0] if isinstance(full, tuple) else full
        part = part[0] if isinstance(part, tuple) else part
        a = full[:, :, y0:y0 + tile, x0:x0 + tile]
        b = part[:, :, context:context + tile, context:context + tile]
        return float((a - b).abs().max())

    return halo, ctx, centre(ctx)


def verify(manifest, only=None):
    ok = True
    total = 0
    for f in sorted(os.listdir(OUT_DIR)):
        total += os.path.getsize(os.path.join(OUT_DIR, f))
    print(f"\n{OUT_DIR}: {total} bytes ({total / 1e6:.2f} MB) in "
          f"{len(os.listdir(OUT_DIR))} files")
    specs = {s["name"]: s for s in MODELS}
    for entry in manifest["models"]:
        if only and entry["name"] not in only:
            continue
        for fname in entry["files"]:
            proto = onnx.load(os.path.join(OUT_DIR, fname))
            if not entry["custom"]:
                onnx.checker.check_model(proto)
            ops = sorted({(n.domain + "::" if n.domain else "") + n.op_type
                          for n in proto.graph.node})
            worst = 0.0
            for case in entry["cases"]:
                feeds = case_feeds(case)
                graph_in = [i.name for i in proto.graph.input
                            if i.name not in {t.name for t in
                                              proto.graph.initializer}]
                if sorted(graph_in) != sorted(feeds):
                    print(f"  FAIL {fname}: graph inputs {graph_in} != "
                          f"{sorted(feeds)}")
                    ok = False
                    continue
                got = run_onnx(proto, feeds)
                for o in case["outputs"]:
                    dt = "<f4" if o["type"] == "float32" else "<i8"
                    ref = read_raw(os.path.join(OUT_DIR, o["file"]), dt,
                                   o["shape"])
                    g = got[o["name"]]
                    if list(g.shape) != o["shape"]:
                        print(f"  FAIL {fname} {o['file']}: shape "
                              f"{list(g.shape)} != {o['shape']}")
                        ok = False
                        continue
                    if o["type"] == "int64":
                        bad = int((g != ref).sum())
                        if bad:
                            print(f"  FAIL {fname} {o['file']}: {bad} "
                                  "argmax mismatches")
                            ok = False
                    else:
                        err = float(np.abs(g - ref).max() /
                                    max(1.0, float(np.abs(ref).max())))
                        worst = max(worst, err)
                        if err > 1e-4:
                            print(f"  FAIL {fname} {o['file']}: rel err {err:.3g}")
                            ok = False
            print(f"{fname}: numpy-vs-torch max rel err {worst:.2e}; ops: "
                  + ", ".join(ops))
        spec = specs[entry["name"]]
        if spec["tileable"]:
            halo, ctx, exact = tiling_check(spec)
            print(f"{entry['name']}: tile with halo {halo} (context {ctx}, "
                  f"alignment {spec['alignment']}) vs full image: "
                  f"max diff {exact:.2e}")
            if exact > 1e-4:
                print(f"  FAIL {entry['name']}: tiling not exact")
                ok = False
    print("verification", "passed" if ok else "FAILED")
    return ok


if __name__ == "__main__":
    main()
