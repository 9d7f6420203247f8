#!/usr/bin/python3
"""Build the transformer-era reference models and operator probes for luojia's tests.

Run from the repository root (CPU only, under a minute):

    /usr/bin/python3 tools/make_transformer_models.py

Needs Debian's python3-torch (1.13), python3-torchvision (0.14) and python3-onnx (1.12).
Writes into tests/data/transformers/ the same layout as tools/make_reference_models.py
(models, raw float32/int64 inputs and PyTorch outputs, manifest.json):

  convnext   torchvision's ConvNeXt, two small stages (LayerNorm2d, 7x7 depthwise, GELU,
             layer scale); opset 13 exports LayerNorm as ReduceMean/Sub/Pow/Sqrt/Div, 17 as
             LayerNormalization
  swin       torchvision's Swin Transformer (window attention with the shifted windows'
             roll and masks, relative position bias, patch merging), any input size
  vit        torchvision's VisionTransformer (class token, position embedding, multi-head
             attention), 32 x 32 only
  segformer  SegFormer-B0's design written from the paper at a small width: overlapping patch
             embedding, efficient self-attention with spatial reduction, Mix-FFN with a 3x3
             depthwise convolution, the all-MLP decoder
  setr       SETR-naive on torchvision's ViT encoder, the position embedding resized bicubically to
             the image's token grid (any multiple of the patch)
  upernet    UperNet's pyramid pooling (global branch) and feature pyramid on torchvision's ConvNeXt
  upernet_swin  the same on torchvision's Swin Transformer
  prithvi    a Prithvi-EO-style encoder: Conv3d patch embedding over 3 dates, transformer layers
             (PyTorch's own TransformerEncoderLayer), a transposed convolution back to pixels
  cost_volume  the 3-D operators of a stereo network: Conv3d (grouped, strided, dilated),
             BatchNorm3d, MaxPool3d (ceil mode), ConvTranspose3d, AvgPool3d, trilinear resize
  probes     one output per operator family: Einsum (three equations exports emit), TopK,
             CumSum, Trilu, GatherElements, GridSample (every mode, padding and corner rule),
             the roll (Slice, Concat), bicubic Resize, Mod, Sign, Round, IsNaN, And/Or/Xor/Not, Tile,
             ScatterND, InstanceNormalization, GroupNorm (as PyTorch exports it), tanh-GELU,
             Softplus/Softsign/Selu/Celu, LogSoftmax, inverse trigonometry

Every output is PyTorch's (torch.manual_seed(0) per model): luojia is compared with PyTorch,
never with itself. None of these models is exactly tileable (global pooling, attention over all
tokens, GroupNorm, data-dependent GridSample): the analysis must say so with a reason.
"""

import json
import os
import re

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.convnext import CNBlockConfig

torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "tests", "data", "transformers"))


# SegFormer (Xie et al. 2021), small --------------------------------------------------------------
class OverlapPatchEmbed(nn.Module):
    def __init__(self, cin, dim, k, s):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, k, s, k // 2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        x = self.proj(x)
        b, c, h, w = x.shape
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


class EfficientAttention(nn.Module):
    def __init__(self, dim, heads, sr):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.sr_ratio = sr
        if sr > 1:
            self.sr = nn.Conv2d(dim, dim, sr, sr)
            self.norm = nn.LayerNorm(dim)

    def forward(self, x, h, w):
        b, n, c = x.shape
        q = self.q(x).reshape(b, n, self.heads, c // self.heads).permute(0, 2, 1, 3)
        if self.sr_ratio > 1:
            y = x.transpose(1, 2).reshape(b, c, h, w)
            y = self.norm(self.sr(y).reshape(b, c, -1).transpose(1, 2))
        else:
            y = x
        kv = self.kv(y).reshape(b, -1, 2, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        k, v = kv[0], kv[1]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class MixFFN(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dw = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x, h, w):
        x = self.fc1(x)
        b, n, c = x.shape
        x = self.dw(x.transpose(1, 2).reshape(b, c, h, w)).flatten(2).transpose(1, 2)
        return self.fc2(F.gelu(x))


class SegFormerBlock(nn.Module):
    def __init__(self, dim, heads, sr):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = EfficientAttention(dim, heads, sr)
        self.ffn = MixFFN(dim, 4 * dim)

    def forward(self, x, h, w):
        x = x + self.attn(self.n1(x), h, w)
        return x + self.ffn(self.n2(x), h, w)


class SegFormer(nn.Module):
    """The defaults are a small two-stage model for the tests; B0 is dims (32, 64, 160, 256), heads
    (1, 2, 5, 8), srs (8, 4, 2, 1), depths (2, 2, 2, 2), decoder 256 (bench/make_zoo.py)."""

    def __init__(self, cin=3, classes=5, dims=(16, 32), heads=(1, 2), srs=(4, 2), depths=(1, 1), decoder=32):
        super().__init__()
        self.embeds = nn.ModuleList([OverlapPatchEmbed(cin, dims[0], 7, 4)] +
                                    [OverlapPatchEmbed(dims[i - 1], dims[i], 3, 2) for i in range(1, len(dims))])
        self.blocks = nn.ModuleList([nn.ModuleList([SegFormerBlock(d, hd, s) for _ in range(n)])
                                     for d, hd, s, n in zip(dims, heads, srs, depths)])
        self.norms = nn.ModuleList([nn.LayerNorm(d) for d in dims])
        self.linears = nn.ModuleList([nn.Linear(d, decoder) for d in dims])
        self.fuse = nn.Sequential(nn.Conv2d(decoder * len(dims), decoder, 1, bias=False), nn.BatchNorm2d(decoder), nn.ReLU())
        self.classify = nn.Conv2d(decoder, classes, 1)

    def forward(self, x):
        size = x.shape[2:]
        feats = []
        for embed, blocks, norm in zip(self.embeds, self.blocks, self.norms):
            t, h, w = embed(x)
            for block in blocks:
                t = block(t, h, w)
            t = norm(t)
            x = t.transpose(1, 2).reshape(t.shape[0], -1, h, w)
            feats.append(x)
        first = feats[0].shape[2:]
        outs = []
        for f, lin in zip(feats, self.linears):
            y = lin(f.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(f.shape[0], -1, f.shape[2], f.shape[3])
            outs.append(F.interpolate(y, size=first, mode="bilinear", align_corners=False))
        y = self.classify(self.fuse(torch.cat(outs[::-1], dim=1)))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


# Segmenters on transformer backbones ------------------------------------------------------------
class SETRNaive(nn.Module):
    """SETR-naive (Zheng et al. 2021) on torchvision's ViT encoder: patch embedding, the position
    embedding resized bicubically to the image's token grid (any input size that is a multiple of
    the patch), the encoder, tokens back to a grid, a 1x1 head, bilinear upsampling x16."""

    def __init__(self, classes=5, size=32, patch=8, dim=32):
        super().__init__()
        self.vit = torchvision.models.VisionTransformer(image_size=size, patch_size=patch, num_layers=2, num_heads=2,
                                                        hidden_dim=dim, mlp_dim=2 * dim)
        self.grid = size // patch
        self.patch = patch
        self.head = nn.Sequential(nn.Conv2d(dim, dim, 1), nn.BatchNorm2d(dim), nn.ReLU(), nn.Conv2d(dim, classes, 1))

    def forward(self, x):
        h, w = x.shape[2] // self.patch, x.shape[3] // self.patch
        t = self.vit.conv_proj(x).flatten(2).transpose(1, 2)
        pos = self.vit.encoder.pos_embedding[:, 1:].transpose(1, 2).reshape(1, -1, self.grid, self.grid)
        pos = F.interpolate(pos, size=(h, w), mode="bicubic", align_corners=False).flatten(2).transpose(1, 2)
        t = self.vit.encoder.ln(self.vit.encoder.layers(t + pos))
        y = self.head(t.transpose(1, 2).reshape(x.shape[0], -1, h, w))
        return F.interpolate(y, size=x.shape[2:], mode="bilinear", align_corners=False)


class UperNetLite(nn.Module):
    """UperNet (Xiao et al. 2018) on torchvision's ConvNeXt or Swin stages: the pyramid pooling
    module's global branch on the deepest stage, a feature pyramid with lateral 1x1 and output 3x3
    convolutions, the levels upsampled to the finest and fused. (The PPM's 2x2, 3x3 and 6x6 bins are
    left out: PyTorch 1.13 exports adaptive pooling only for the traced size.)"""

    def __init__(self, classes=5, dims=(8, 16, 32, 64), width=16, backbone="convnext"):
        super().__init__()
        if backbone == "convnext":
            blocks = [CNBlockConfig(dims[i], dims[i + 1] if i + 1 < len(dims) else None, 1) for i in range(len(dims))]
            self.backbone = torchvision.models.convnext.ConvNeXt(blocks).features
        else:  # Swin: stages of (N, H, W, C) tokens; embed_dim doubles per stage
            self.backbone = torchvision.models.swin_transformer.SwinTransformer(
                patch_size=[4, 4], embed_dim=dims[0], depths=[1] * len(dims), num_heads=[1, 2, 2, 4][:len(dims)],
                window_size=[4, 4]).features
        self.channels_last = backbone == "swin"
        self.ppm = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dims[-1], width, 1), nn.ReLU())
        self.bottleneck = nn.Conv2d(dims[-1] + width, width, 3, padding=1)
        self.lateral = nn.ModuleList([nn.Conv2d(d, width, 1) for d in dims[:-1]])
        self.smooth = nn.ModuleList([nn.Conv2d(width, width, 3, padding=1) for _ in dims[:-1]])
        self.fuse = nn.Sequential(nn.Conv2d(width * len(dims), width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.classify = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        feats = []
        y = x
        for i, stage in enumerate(self.backbone):
            y = stage(y)
            if i % 2 == 1:  # after each stage's blocks (the even modules downsample)
                feats.append(y.permute(0, 3, 1, 2) if self.channels_last else y)
        top = feats[-1]
        g = F.interpolate(self.ppm(top), size=top.shape[2:], mode="bilinear", align_corners=False)
        levels = [self.bottleneck(torch.cat([top, g], 1))]
        for lat, smooth, f in zip(reversed(self.lateral), reversed(self.smooth), reversed(feats[:-1])):
            up = lat(f) + F.interpolate(levels[0], size=f.shape[2:], mode="bilinear", align_corners=False)
            levels.insert(0, smooth(up))
        size = levels[0].shape[2:]
        y = self.fuse(torch.cat([levels[0]] + [F.interpolate(l, size=size, mode="bilinear", align_corners=False) for l in levels[1:]], 1))
        return F.interpolate(self.classify(y), size=x.shape[2:], mode="bilinear", align_corners=False)


# Three spatial axes ------------------------------------------------------------------------------
class PrithviStyle(nn.Module):
    """A Prithvi-EO-style encoder at a small width: a Conv3d patch embedding over (time, y, x) with
    a one-date kernel, a learned position embedding, transformer layers over all tokens, then the
    dates averaged and a transposed convolution back to pixels."""

    def __init__(self, bands=6, dates=3, size=32, patch=8, dim=32, classes=4):
        super().__init__()
        self.embed = nn.Conv3d(bands, dim, (1, patch, patch), (1, patch, patch))
        self.grid = (dates, size // patch, size // patch)
        self.position = nn.Parameter(torch.randn(1, dates * (size // patch) ** 2, dim) * 0.1)
        layer = nn.TransformerEncoderLayer(dim, 2, 2 * dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.head = nn.ConvTranspose2d(dim, classes, patch, patch)

    def forward(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2) + self.position
        t = self.encoder(t)
        d, h, w = self.grid
        v = t.transpose(1, 2).reshape(x.shape[0], -1, d, h, w).mean(dim=2)
        return self.head(v)


class CostVolumeNet(nn.Module):
    """The 3-D operators of a stereo network's cost-volume regularisation: Conv3d (grouped,
    strided), BatchNorm, MaxPool3d in ceil mode, ConvTranspose3d, AvgPool3d without the padding,
    a trilinear resize back to the input's size."""

    def __init__(self, c=4):
        super().__init__()
        self.a = nn.Sequential(nn.Conv3d(c, 8, 3, padding=1), nn.BatchNorm3d(8), nn.ReLU())
        self.pool = nn.MaxPool3d(2, ceil_mode=True)
        self.b = nn.Conv3d(8, 8, 3, stride=(1, 2, 2), padding=1, groups=2)
        self.up = nn.ConvTranspose3d(8, 4, 4, stride=2, padding=1)
        self.avg = nn.AvgPool3d(3, stride=1, padding=1, count_include_pad=False)
        self.out = nn.Conv3d(4, 2, (1, 3, 3), padding=(0, 2, 2), dilation=(1, 2, 2))

    def forward(self, x):
        y = self.avg(self.up(torch.relu(self.b(self.pool(self.a(x))))))
        y = F.interpolate(y, size=x.shape[2:], mode="trilinear", align_corners=False)
        return self.out(y)


# Operator probes ---------------------------------------------------------------------------------
PROBE_OUTPUTS = ["einsum_channels", "einsum_tokens", "einsum_heads", "topk_values", "topk_indices", "cumsum", "trilu",
                 "gather_elements", "grid_bilinear", "grid_nearest", "grid_bicubic", "roll", "fmod", "sign_round",
                 "isnan_where", "logic", "tile", "scatter", "instance_norm", "group_norm", "gelu_tanh", "activations",
                 "log_softmax", "trigonometry", "bicubic"]


class Probes(nn.Module):
    def __init__(self, c=4):
        super().__init__()
        self.c = c
        self.mix = nn.Parameter(torch.randn(3, c))
        self.grid = nn.Conv2d(c, 2, 1)
        self.gn_weight = nn.Parameter(torch.rand(c) + 0.5)
        self.gn_bias = nn.Parameter(torch.randn(c))

    def forward(self, x):
        b, c, h, w = x.shape
        outs = []
        outs.append(torch.einsum("bchw,dc->bdhw", x, self.mix))
        q = x.flatten(2)
        outs.append(torch.einsum("bcn,bcm->bnm", q, q))
        t = x.reshape(b, 2, c // 2, h * w).transpose(-1, -2)
        outs.append(torch.einsum("bhqd,bhkd->bhqk", t, t))
        values, indices = torch.topk(x.flatten(1), k=3, dim=1)
        outs += [values, indices]
        outs.append(torch.cumsum(x, dim=3) + torch.cumsum(x, dim=1))
        outs.append(torch.tril(x, diagonal=1) + torch.triu(x, diagonal=-1))
        index = (torch.sigmoid(x) * c).long()
        outs.append(torch.gather(x, 1, index))
        grid = torch.tanh(self.grid(x)).permute(0, 2, 3, 1) * 1.3
        outs.append(F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
                    + F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=True))
        outs.append(F.grid_sample(x, grid, mode="nearest", padding_mode="border", align_corners=False)
                    + F.grid_sample(x, grid, mode="nearest", padding_mode="reflection", align_corners=False))
        outs.append(F.grid_sample(x, grid, mode="bicubic", padding_mode="zeros", align_corners=True)
                    + F.grid_sample(x, grid, mode="bicubic", padding_mode="border", align_corners=False)
                    + F.grid_sample(x, grid, mode="bicubic", padding_mode="reflection", align_corners=False))
        outs.append(torch.roll(x, shifts=(1, -2), dims=(2, 3)))
        outs.append(torch.fmod(x * 3, 0.7))
        outs.append(torch.sign(x) + torch.round(x * 3))
        outs.append(torch.where(torch.isnan(x / x), torch.zeros_like(x), x))
        outs.append((((x > 0) & (x < 0.5)) | ~(x > -0.5) ^ (x > 1)).float())
        outs.append(x.repeat(1, 2, 1, 2))
        y = x.clone()
        y[:, 1] = 2.5
        outs.append(y)
        outs.append(F.instance_norm(x))
        outs.append(F.group_norm(x, 2, self.gn_weight, self.gn_bias))
        outs.append(F.gelu(x, approximate="tanh"))
        outs.append(F.softplus(x) + F.softsign(x) + F.selu(x) + F.celu(x, 0.7))
        outs.append(F.log_softmax(x, dim=2))
        s = torch.tanh(x)
        outs.append(torch.atan(x) + torch.asin(s) + torch.acos(s) + torch.tan(s))
        # Position embeddings are resized bicubically (SAM, DINOv2, timm's dynamic image size).
        outs.append(F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=False)
                    + F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=True))
        return tuple(outs)


def make(name):
    torch.manual_seed(0)
    if name == "convnext":
        m = torchvision.models.convnext.ConvNeXt([CNBlockConfig(16, 32, 2), CNBlockConfig(32, None, 1)], num_classes=10)
        return m, [(1, 3, 32, 32), (1, 3, 40, 24)], (13, 17), ["logits"]
    if name == "swin":
        m = torchvision.models.swin_transformer.SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                                                                 window_size=[4, 4], num_classes=10)
        # Exported at 48 x 40 and run at sizes whose stages take the same branches: torchvision
        # decides in Python whether a stage shifts its windows (not when one window covers it),
        # and the export keeps the decision it traced.
        return m, [(1, 3, 48, 40), (1, 3, 64, 56)], (13, 17), ["logits"]
    if name == "vit":
        m = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                                                 mlp_dim=64, num_classes=10)
        return m, [(1, 3, 32, 32), (2, 3, 32, 32)], (13, 17), ["logits"]
    if name == "segformer":
        m = SegFormer()
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 1.5)
        # 61 x 45: not a multiple of the stride of 8, for the one-tile run at the raster's own size.
        return m, [(1, 3, 64, 64), (1, 3, 72, 56), (1, 3, 61, 45)], (13, 17), ["output"]
    if name == "setr":
        m = SETRNaive()
        m.head[1].running_mean.uniform_(-0.5, 0.5)
        m.head[1].running_var.uniform_(0.5, 1.5)
        return m, [(1, 3, 32, 32), (1, 3, 48, 72), (1, 3, 8, 16)], (16, 17), ["output"]
    if name == "upernet":
        m = UperNetLite()
        m.fuse[1].running_mean.uniform_(-0.5, 0.5)
        m.fuse[1].running_var.uniform_(0.5, 1.5)
        return m, [(1, 3, 64, 64), (1, 3, 96, 64), (1, 3, 45, 61)], (16, 17), ["output"]
    if name == "upernet_swin":
        # Swin decides per stage in Python whether windows shift (not when one window covers the
        # stage); the export keeps what it traced, so every case takes the same branches: at
        # 80 x 80 and up, each of the 3 stages is wider than a window.
        m = UperNetLite(dims=(8, 16, 32), backbone="swin")
        m.fuse[1].running_mean.uniform_(-0.5, 0.5)
        m.fuse[1].running_var.uniform_(0.5, 1.5)
        return m, [(1, 3, 80, 80), (1, 3, 96, 80)], (17,), ["output"]
    if name == "prithvi":
        return PrithviStyle(), [(1, 6, 3, 32, 32), (2, 6, 3, 32, 32)], (17,), ["output"]
    if name == "cost_volume":
        m = CostVolumeNet()
        m.a[1].running_mean.uniform_(-0.5, 0.5)
        m.a[1].running_var.uniform_(0.5, 1.5)
        return m, [(1, 4, 6, 20, 24), (1, 4, 5, 17, 22), (1, 4, 3, 5, 7)], (17,), ["output"]
    if name == "probes":
        return Probes(), [(1, 4, 5, 7), (1, 4, 1, 9), (2, 4, 6, 6), (1, 4, 2, 1)], (16, 17), PROBE_OUTPUTS
    raise KeyError(name)


def write_raw(path, array):
    array = np.ascontiguousarray(array)
    array = array.astype("<i8" if array.dtype == np.int64 else "<f4", copy=False)
    with open(path, "wb") as f:
        f.write(array.tobytes())


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    manifest = {"models": []}
    for name in ["convnext", "swin", "vit", "segformer", "setr", "upernet", "upernet_swin", "prithvi", "cost_volume", "probes"]:
        model, shapes, opsets, output_names = make(name)
        model.eval()
        gen = torch.Generator().manual_seed(1)
        cases = []
        for ci, shape in enumerate(shapes):
            x = torch.randn(shape, generator=gen)
            with torch.no_grad():
                outs = model(x)
            outs = outs if isinstance(outs, tuple) else (outs,)
            in_file = f"{name}_{ci}_input.f32"
            write_raw(os.path.join(OUT_DIR, in_file), x.numpy())
            case = {"input": {"file": in_file, "shape": list(shape)}, "outputs": []}
            for oname, o in zip(output_names, outs):
                a = o.numpy()
                ext, dtype = ("i64", "int64") if a.dtype == np.int64 else ("f32", "float32")
                ofile = f"{name}_{ci}_{oname}.{ext}"
                write_raw(os.path.join(OUT_DIR, ofile), a)
                case["outputs"].append({"name": oname, "file": ofile, "shape": list(a.shape), "type": dtype})
            cases.append(case)
        files = []
        dynamic = {"input": {0: "n"}} if name in ("vit", "prithvi") else \
            {"input": {0: "n", 2: "d", 3: "h", 4: "w"}} if name == "cost_volume" else {"input": {0: "n", 2: "h", 3: "w"}}
        for opset in opsets:
            fname = f"{name}_op{opset}.onnx"
            torch.onnx.export(model, torch.randn(shapes[0]), os.path.join(OUT_DIR, fname), opset_version=opset,
                              input_names=["input"], output_names=output_names, dynamic_axes=dynamic)
            proto = onnx.load(os.path.join(OUT_DIR, fname))
            onnx.checker.check_model(proto)
            files.append(fname)
            ops = sorted({n.op_type for n in proto.graph.node})
            print(f"{fname}: {len(proto.graph.node)} nodes, {', '.join(ops)}")
        manifest["models"].append({"name": name, "files": files, "custom": False, "tileable": False, "cases": cases})
    text = json.dumps(manifest, indent=1)
    text = re.sub(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]", lambda m: "[" + ", ".join(re.split(r",\s*", m.group(1))) + "]", text)
    with open(os.path.join(OUT_DIR, "manifest.json"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
