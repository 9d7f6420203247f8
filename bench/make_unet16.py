#!/usr/bin/python3
"""Build the U-Net benchmarked by bench/nn_bench.sh and export it to ONNX.

    /usr/bin/python3 bench/make_unet16.py OUT.onnx [--variant NAME]
    /usr/bin/python3 bench/make_unet16.py --list        (GFLOP of every variant)

The network: 4 input bands -> 6 class logits, base width 16, four 2x down
levels (MaxPool2d(2)), double-conv blocks of Conv3x3(no bias)+BatchNorm+ReLU,
bilinear upsampling to the skip's size (F.interpolate(size=skip.shape[2:],
mode='bilinear', align_corners=False); exports as Shape/Slice/Concat -> Resize
with `sizes`), concatenated skips, final 1x1 conv.

Variants (conv GFLOP = 2 x multiply-adds of every Conv2d, counted with forward
hooks; "--list" prints them). The benchmark's brief asks for "about 21.5 GFLOP
per 512x512 tile"; the default is the standard variant closest to that:

  halved   (default) the "bilinear" U-Net of milesial/Pytorch-UNet scaled to
           base 16: encoder 16/32/64/128, bottleneck 256//2 = 128; each
           decoder block takes cat(skip, up) (2c channels), its first conv
           halves them (mid = in//2) and its second outputs c/2 (the next
           level's skip width), the last one 16.           20.28 GFLOP @512
  reduce   channels 16/32/64/128/256; the upsampled tensor is first reduced
           by a 1x1 conv to the skip's width (at the low resolution, before
           the upsampling), then cat(skip, up) (2c) -> c -> c. 23.57 GFLOP
  bott128  channels 16/32/64/128 with a 128-channel bottleneck; decoder
           cat(skip, up) -> c -> c.                           25.72 GFLOP
  classic  channels 16/32/64/128/256; decoder cat(skip, up) -> c -> c.
                                                              28.14 GFLOP

Weights: torch.manual_seed(0), convs initialised as torchvision does
(kaiming_normal_, fan_out, relu) so activations stay O(1) through the 19 convs
(PyTorch's default init shrinks them ~6x per conv+ReLU, to ~1e-7 at the
output: not what a trained network looks like, and it brings denormals
closer); the head's bias is uniform in [-0.1, 0.1]. BatchNorm gets
trained-looking statistics (running mean and beta uniform in [-0.2, 0.2],
running var in [0.5, 2], gamma in [0.5, 1.5]): with the default ones every
folded bias would be the same zero tensor, which the exporter deduplicates
into Identity nodes that OpenCV 4.6 cannot import. The model is put in
eval() and exported at opset 17 with torch.onnx.export's defaults, which
fold BatchNorm into the convs (19 Conv, 18 Relu, 4 MaxPool, 4 Resize).

Also writes OUT.json next to OUT.onnx:
  {"gflop": {"512": x, "1024": y}, "variant": NAME, "opset": 17, ...}
Beware: MODEL.json beside MODEL.onnx is also luojia's model-metadata sidecar
(luojia::nn::ModelMetadata: "bands", "scale", "mean", "std", "classes"), which
luojia's Model::load reads and validates. This file therefore uses none of
those keys (luojia ignores the others), so luojia sees the defaults: bands
1..4 in order, no normalisation.
bench/torch_bench.py imports build_model() from here, so PyTorch runs exactly
the module that was exported (same variant, same seed, same weights).
"""

import argparse
import copy
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

IN_BANDS = 4
CLASSES = 6
BASE = 16
OPSET = 17
SEED = 0
DEFAULT_VARIANT = "halved"
VARIANTS = ("halved", "reduce", "bott128", "classic")


def double_conv(cin, cout, mid=None):
    mid = cout if mid is None else mid
    return nn.Sequential(
        nn.Conv2d(cin, mid, 3, padding=1, bias=False),
        nn.BatchNorm2d(mid),
        nn.ReLU(inplace=True),
        nn.Conv2d(mid, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet16(nn.Module):
    def __init__(self, variant=DEFAULT_VARIANT, cin=IN_BANDS, ncls=CLASSES, base=BASE):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r} (one of {', '.join(VARIANTS)})")
        self.variant = variant
        enc = [base, 2 * base, 4 * base, 8 * base]              # 16 32 64 128
        bott = 8 * base if variant in ("halved", "bott128") else 16 * base
        self.enc = nn.ModuleList()
        c = cin
        for w in enc:
            self.enc.append(double_conv(c, w))
            c = w
        self.bottleneck = double_conv(c, bott)
        c = bott
        self.reduce = nn.ModuleList()
        self.dec = nn.ModuleList()
        skips = list(reversed(enc))                             # 128 64 32 16
        for i, s in enumerate(skips):
            if variant == "halved":
                out = skips[i + 1] if i + 1 < len(skips) else s
                self.dec.append(double_conv(c + s, out, mid=(c + s) // 2))
                c = out
            elif variant == "reduce":
                self.reduce.append(nn.Conv2d(c, s, 1, bias=False))
                self.dec.append(double_conv(2 * s, s))
                c = s
            else:
                self.dec.append(double_conv(c + s, s))
                c = s
        self.head = nn.Conv2d(c, ncls, 1)

    def forward(self, x):
        skips = []
        for enc in self.enc:
            x = enc(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for i, (dec, skip) in enumerate(zip(self.dec, reversed(skips))):
            if self.variant == "reduce":
                x = self.reduce[i](x)
            x = F.interpolate(x, size=skip.shape[2:], mode="bilinear", align_corners=False)
            x = dec(torch.cat([skip, x], dim=1))
        return self.head(x)


def build_model(variant=DEFAULT_VARIANT):
    """The benchmark's module, deterministic (seed 0), in eval() mode."""
    torch.manual_seed(SEED)
    model = UNet16(variant)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.uniform_(m.bias, -0.1, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                # Trained-looking statistics: with the defaults (0, 1, 1, 0)
                # every folded bias is zero, the exporter deduplicates the
                # identical zero tensors into Identity nodes, and OpenCV 4.6
                # refuses to load the graph for that reason alone.
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


def conv_gflop(model, size):
    """2 x MACs of every Conv2d for a (1, 4, size, size) input, from forward hooks.

    Runs a copy of the model on the meta device: shapes only, no arithmetic."""
    meta = copy.deepcopy(model).to("meta")
    total = [0]

    def hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1]
        total[0] += 2 * out.numel() * (m.in_channels // m.groups) * k

    for m in meta.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(hook)
    with torch.no_grad():
        meta(torch.empty(1, IN_BANDS, size, size, device="meta"))
    return total[0] / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("out", nargs="?", help="output .onnx (OUT.json is written next to it)")
    ap.add_argument("--variant", default=DEFAULT_VARIANT, choices=VARIANTS)
    ap.add_argument("--list", action="store_true", help="print every variant's GFLOP and exit")
    args = ap.parse_args()

    if args.list or not args.out:
        if not args.list:
            ap.error("OUT.onnx is required (or --list)")
        for v in VARIANTS:
            m = build_model(v)
            params = sum(p.numel() for p in m.parameters())
            print(f"{v:8s} {conv_gflop(m, 512):7.3f} GFLOP @512  {conv_gflop(m, 1024):8.3f} GFLOP @1024  "
                  f"{params / 1e6:.3f} M params{'  (default)' if v == DEFAULT_VARIANT else ''}")
        return 0

    model = build_model(args.variant)
    gflop = {str(s): round(conv_gflop(model, s), 6) for s in (512, 1024)}
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    x = torch.randn(1, IN_BANDS, 64, 64)
    torch.onnx.export(model, x, out, opset_version=OPSET,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {2: "h", 3: "w"}, "output": {2: "h", 3: "w"}})
    meta = {"gflop": gflop, "variant": args.variant, "opset": OPSET, "seed": SEED,
            "input_channels": IN_BANDS, "num_classes": CLASSES, "base_width": BASE,
            "params": sum(p.numel() for p in model.parameters())}
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"wrote {out} (variant {args.variant}: {gflop['512']:.3f} GFLOP @512, {gflop['1024']:.3f} GFLOP @1024)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
