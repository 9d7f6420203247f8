#!/usr/bin/python3
"""Train luojia's bundled demo model: a small road-segmentation U-Net.

Run from the repository root (CPU only, one thread, about 10 minutes):

    /usr/bin/python3 tools/train_demo_model.py

Needs Debian's python3-torch (1.13), python3-onnx (1.12), python3-gdal and
python3-numpy.  Reads

  data/road_mask_input.tif          WorldView-3 panchromatic, Las Vegas,
                                    1300x1300 UInt16 (11-bit), ~0.3 m
  data/sample_road_raster_mask.tif  road mask on the same grid, {0, 255}

(SpaceNet 3 data from the solaris repository, CC BY-SA 4.0, "SpaceNet on AWS,
CosmiQ Works / Maxar") and writes

  data/demo_roads.onnx              the model, opset 17, dynamic H and W,
                                    metadata_props "luojia" and "license"
  data/demo_roads_accuracy.json     metrics on the held-back strip and on the
                                    training strip, split, normalisation, ...

Honest evaluation: the image is split by columns into a training strip
[0, 975) and a held-back test strip [1039, 1300), with a 64-pixel gap that no
training crop and no test inference ever sees (the network's receptive radius
is measured and must be below the gap, so even a run over the whole image
could not carry training pixels into a test prediction).  Hyper-parameters and the number of
iterations are fixed in advance: nothing is selected on the test strip.
The test strip is evaluated in one pass on the strip alone, reflect-padded on
the right to a multiple of 4 (what a luojia run over that window computes).

The exported ONNX file is checked with onnx.checker and by an independent
numpy evaluation of its graph, which must reproduce the PyTorch logits on the
test strip (so the metrics describe the file that ships); OpenCV's DNN module
is used as a second runtime when it can read the file.
"""

import argparse
import io
import json
import math
import os
import platform
import sys
import time

import numpy as np
import onnx
from onnx import helper, numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F
from osgeo import gdal

torch.set_num_threads(1)
gdal.UseExceptions()

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
DATA = os.path.join(ROOT, "data")

SCALE = 1.0 / 2047.0
WIDTHS = (8, 16, 32)
ALIGN = 4  # total stride of the network (two 2x2 poolings)
LICENSE = ("CC BY-SA 4.0 (derived from SpaceNet 3 data: SpaceNet on AWS, "
           "CosmiQ Works / Maxar)")
CLASSES = [{"name": "background", "color": "#000000"},
           {"name": "road", "color": "#ff7f00"}]


# --------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------

def block(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True))


class UNet(nn.Module):
    """3-level U-Net (widths 8/16/32), 1 band in, 2 class logits out.

    Fully convolutional, no global pooling: equivariant to shifts by
    multiples of 4 pixels (two 2x2 poolings); its receptive radius (measured
    by receptive_radius()) is well below the 64-pixel gap of the split."""

    def __init__(self, cin=1, ncls=2, w=WIDTHS):
        super().__init__()
        self.enc1 = block(cin, w[0])
        self.enc2 = block(w[0], w[1])
        self.bott = block(w[1], w[2])
        self.dec2 = block(w[2] + w[1], w[1])
        self.dec1 = block(w[1] + w[0], w[0])
        self.head = nn.Conv2d(w[0], ncls, 1)
        self.pool = nn.MaxPool2d(2)

    @staticmethod
    def up(x, skip):
        return F.interpolate(x, size=skip.shape[2:], mode="bilinear",
                             align_corners=False)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        b = self.bott(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up(b, e2), e2], 1))
        d1 = self.dec1(torch.cat([self.up(d2, e1), e1], 1))
        return self.head(d1)


def receptive_radius(model, size=128):
    """Largest distance (in rows or columns) from an output pixel to an input
    pixel that influences it, measured by back-propagation at all 16 phases
    of the 4-pixel grid (the model must be in eval mode)."""
    radius = 0
    for py in range(ALIGN):
        for px in range(ALIGN):
            x = torch.zeros(1, 1, size, size, requires_grad=True)
            # a non-zero input so that ReLUs are not all off
            with torch.no_grad():
                x += torch.randn(1, 1, size, size, generator=torch.Generator().manual_seed(7))
            oy, ox = size // 2 + py, size // 2 + px
            model(x)[0, :, oy, ox].sum().backward()
            nz = np.argwhere(x.grad[0, 0].numpy() != 0)
            radius = max(radius, int(np.abs(nz - [oy, ox]).max()))
    model.zero_grad(set_to_none=True)
    return radius


def conv_macs(model, h, w):
    """Multiply-accumulates of the convolutions for one h x w input."""
    total = [0]

    def hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
        total[0] += k * out.numel()  # out.numel() = cout * H * W (batch 1)

    hs = [m.register_forward_hook(hook) for m in model.modules()
          if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 1, h, w))
    for hdl in hs:
        hdl.remove()
    return total[0]


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

def read_band(path):
    ds = gdal.Open(path)
    a = ds.GetRasterBand(1).ReadAsArray()
    return a, ds


def dihedral(x, k, flip):
    """x: (..., H, W) numpy view -> rotated by k*90 degrees, optionally flipped."""
    x = np.rot90(x, k, axes=(-2, -1))
    if flip:
        x = x[..., ::-1]
    return x


class CropSampler:
    """Random crops from the training strip with the 8 dihedral transforms.

    A fraction `road_frac` of the crops is centred (with jitter) on a random
    road pixel, the rest is uniform; all crops lie wholly inside the strip."""

    def __init__(self, x, y, crop, rng, road_frac):
        self.x, self.y, self.crop, self.rng = x, y, crop, rng
        self.road_frac = road_frac
        self.road = np.argwhere(y > 0)
        self.H, self.W = x.shape

    def sample(self, n):
        c = self.crop
        xs = np.empty((n, 1, c, c), np.float32)
        ys = np.empty((n, c, c), np.int64)
        for i in range(n):
            if self.rng.random() < self.road_frac:
                r, q = self.road[self.rng.integers(len(self.road))]
                r0 = int(r) - c // 2 + int(self.rng.integers(-c // 4, c // 4 + 1))
                c0 = int(q) - c // 2 + int(self.rng.integers(-c // 4, c // 4 + 1))
            else:
                r0 = int(self.rng.integers(0, self.H - c + 1))
                c0 = int(self.rng.integers(0, self.W - c + 1))
            r0 = min(max(r0, 0), self.H - c)
            c0 = min(max(c0, 0), self.W - c)
            k = int(self.rng.integers(4))
            fl = bool(self.rng.integers(2))
            xs[i, 0] = dihedral(self.x[r0:r0 + c, c0:c0 + c], k, fl)
            ys[i] = dihedral(self.y[r0:r0 + c, c0:c0 + c], k, fl)
        return torch.from_numpy(xs), torch.from_numpy(ys)


# --------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------

def dilate(mask, r):
    """Binary dilation with a (2r+1)^2 disc, numpy only."""
    out = mask.copy()
    H, W = mask.shape
    p = np.pad(mask, r)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy * dy + dx * dx <= r * r:
                out |= p[r + dy:r + dy + H, r + dx:r + dx + W]
    return out


def metrics(pred, truth, relax=4):
    """pred, truth: bool road masks of the same shape."""
    tp = int(np.sum(pred & truth))
    fp = int(np.sum(pred & ~truth))
    fn = int(np.sum(~pred & truth))
    tn = int(np.sum(~pred & ~truth))
    n = tp + fp + fn + tn

    def div(a, b):
        return float(a) / b if b else float("nan")

    prec = div(tp, tp + fp)
    rec = div(tp, tp + fn)
    f1 = div(2 * tp, 2 * tp + fp + fn)
    road_iou = div(tp, tp + fp + fn)
    bg_iou = div(tn, tn + fn + fp)
    # Relaxed ("buffered") precision / recall, common for road extraction
    # where the label is a buffered centre-line: a predicted road pixel is
    # correct if a labelled road pixel lies within `relax` px, and a labelled
    # road pixel is found if a prediction lies within `relax` px.
    rp = div(int(np.sum(pred & dilate(truth, relax))), int(pred.sum()))
    rr = div(int(np.sum(truth & dilate(pred, relax))), int(truth.sum()))
    return {
        "pixels": n,
        "road_pixels_label": tp + fn,
        "road_pixels_predicted": tp + fp,
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "pixel_accuracy": div(tp + tn, n),
        "road_iou": road_iou,
        "road_precision": prec,
        "road_recall": rec,
        "road_f1": f1,
        "background_iou": bg_iou,
        "miou": (road_iou + bg_iou) / 2,
        "all_background_pixel_accuracy": div(tn + fp, n),
        "relaxed_px": relax,
        "relaxed_road_precision": rp,
        "relaxed_road_recall": rr,
        "relaxed_road_f1": div(2 * rp * rr, rp + rr) if rp + rr > 0 else 0.0,
    }


# --------------------------------------------------------------------------
# independent numpy evaluation of the exported ONNX graph
# --------------------------------------------------------------------------

def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _conv(x, w, b, a):
    # x (1, C, H, W), w (O, C, kh, kw); stride 1, symmetric pads, group 1
    assert a.get("group", 1) == 1 and all(s == 1 for s in a.get("strides", [1, 1]))
    assert all(d == 1 for d in a.get("dilations", [1, 1]))
    pads = a.get("pads", [0, 0, 0, 0])
    O, C, kh, kw = w.shape
    xp = np.pad(x[0], ((0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    H = xp.shape[1] - kh + 1
    W = xp.shape[2] - kw + 1
    out = np.zeros((O, H * W), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i:i + H, j:j + W].reshape(C, -1).astype(np.float64)
            out += w[:, :, i, j].astype(np.float64) @ patch
    if b is not None:
        out += b.astype(np.float64)[:, None]
    return out.reshape(1, O, H, W).astype(np.float32)


def _maxpool(x, a):
    assert list(a["kernel_shape"]) == [2, 2] and list(a.get("strides", [2, 2])) == [2, 2]
    assert not any(a.get("pads", [0, 0, 0, 0])) and not a.get("ceil_mode", 0)
    N, C, H, W = x.shape
    h, w = H // 2, W // 2
    return x[:, :, :2 * h, :2 * w].reshape(N, C, h, 2, w, 2).max(axis=(3, 5))


def _resize_axis(x, axis, out_len, mode):
    in_len = x.shape[axis]
    o = np.arange(out_len, dtype=np.float64)
    scale = out_len / in_len
    if mode == "align_corners":
        src = o * (in_len - 1) / (out_len - 1) if out_len > 1 else np.zeros_like(o)
    elif mode == "asymmetric":
        src = o / scale
    elif mode == "pytorch_half_pixel":
        src = (o + 0.5) / scale - 0.5 if out_len > 1 else np.zeros_like(o)
    elif mode == "half_pixel":
        src = (o + 0.5) / scale - 0.5
    else:
        raise ValueError("Resize coordinate_transformation_mode " + mode)
    src = np.clip(src, 0, in_len - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, in_len - 1)
    t = src - i0
    shape = [1] * x.ndim
    shape[axis] = out_len
    t = t.reshape(shape)
    return np.take(x, i0, axis=axis) * (1 - t) + np.take(x, i1, axis=axis) * t


def run_onnx_numpy(model, x):
    """Evaluate the exported graph with numpy (only the ops it contains)."""
    env = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for n in model.graph.node:
        a = _attrs(n)
        ins = [env[i] if i else None for i in n.input]
        t = n.op_type
        if t == "Constant":
            out = numpy_helper.to_array(a["value"])
        elif t == "Conv":
            out = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif t == "Relu":
            out = np.maximum(ins[0], 0)
        elif t == "MaxPool":
            out = _maxpool(ins[0], a)
        elif t == "Shape":
            out = np.array(ins[0].shape, np.int64)
        elif t == "Gather":
            out = np.take(ins[0], ins[1], axis=a.get("axis", 0))
        elif t == "Slice":
            starts, ends = ins[1], ins[2]
            axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(starts))
            steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
            sl = [slice(None)] * ins[0].ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                sl[int(ax)] = slice(int(s), int(min(e, 2 ** 62)), int(st))
            out = ins[0][tuple(sl)]
        elif t == "Concat":
            out = np.concatenate(ins, axis=a["axis"])
        elif t == "Unsqueeze":
            out = np.expand_dims(ins[0], tuple(int(v) for v in ins[1]))
        elif t == "Cast":
            to = helper.tensor_dtype_to_np_dtype(a["to"]) if hasattr(
                helper, "tensor_dtype_to_np_dtype") else onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]]
            out = ins[0].astype(to)
        elif t == "Resize":
            assert a.get("mode", b"nearest") in (b"linear", "linear")
            ctm = a.get("coordinate_transformation_mode", b"half_pixel")
            ctm = ctm.decode() if isinstance(ctm, bytes) else ctm
            y = ins[0]
            sizes = ins[3] if len(ins) > 3 and ins[3] is not None and ins[3].size else None
            if sizes is None:
                scales = ins[2]
                sizes = [int(math.floor(y.shape[i] * scales[i])) for i in range(y.ndim)]
            for ax in (2, 3):
                if int(sizes[ax]) != y.shape[ax]:
                    y = _resize_axis(y, ax, int(sizes[ax]), ctm)
            out = y.astype(np.float32)
        else:
            raise NotImplementedError("numpy evaluator: op " + t)
        env[n.output[0]] = out
    return env[model.graph.output[0].name]


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def pad_aligned(x):
    """Reflect-pad (H, W) on the bottom and right to multiples of ALIGN, as
    luojia does before running a network on a raster."""
    H, W = x.shape
    return np.pad(x, ((0, -H % ALIGN), (0, -W % ALIGN)), mode="reflect")


def predict(model, x):
    """Logits for a whole (H, W) normalised float32 array in one pass, the
    way luojia runs it: padded to multiples of 4, the padding cropped off."""
    H, W = x.shape
    with torch.no_grad():
        xp = torch.from_numpy(np.ascontiguousarray(pad_aligned(x)))[None, None]
        return model(xp)[0, :, :H, :W].numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image", default=os.path.join(DATA, "road_mask_input.tif"))
    ap.add_argument("--mask", default=os.path.join(DATA, "sample_road_raster_mask.tif"))
    ap.add_argument("--out-model", default=os.path.join(DATA, "demo_roads.onnx"))
    ap.add_argument("--out-metrics", default=os.path.join(DATA, "demo_roads_accuracy.json"))
    ap.add_argument("--train-cols", default="0,975", help="training strip [a,b)")
    ap.add_argument("--test-cols", default="1039,1300", help="held-back strip [a,b)")
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--road-weight", type=float, default=3.0,
                    help="cross-entropy weight of the road class")
    ap.add_argument("--dice", type=float, default=1.0, help="weight of the soft-dice term")
    ap.add_argument("--road-frac", type=float, default=0.5,
                    help="fraction of crops centred on a road pixel")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-verify", action="store_true",
                    help="skip the numpy / OpenCV evaluation of the ONNX file")
    args = ap.parse_args()
    t_start = time.time()

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)

    raw, ds = read_band(args.image)
    lab, dsm = read_band(args.mask)
    assert raw.shape == lab.shape, "image and mask grids differ"
    assert ds.GetGeoTransform() == dsm.GetGeoTransform(), "image and mask grids differ"
    H, W = raw.shape
    assert set(np.unique(lab).tolist()) <= {0, 255}
    road = lab > 0

    tr = tuple(int(v) for v in args.train_cols.split(","))
    te = tuple(int(v) for v in args.test_cols.split(","))
    assert 0 <= tr[0] < tr[1] <= W and 0 <= te[0] < te[1] <= W
    assert tr[1] <= te[0] or te[1] <= tr[0], "strips overlap"
    gap = te[0] - tr[1] if tr[1] <= te[0] else tr[0] - te[1]

    # normalisation: x = (raw * scale - mean) / std, statistics of the
    # training strip only (float64), applied in float32 as luojia does
    v = raw[:, tr[0]:tr[1]].astype(np.float64) * SCALE
    mean, std = float(v.mean()), float(v.std())
    gain = np.float32(SCALE / std)
    bias = np.float32(-mean / std)
    x = raw.astype(np.float32) * gain + bias
    print(f"image {W}x{H}, raw {raw.min()}..{raw.max()}, road {road.mean():.4f}")
    print(f"normalisation: scale {SCALE!r} mean {mean:.6f} std {std:.6f}")

    x_tr, y_tr = x[:, tr[0]:tr[1]], road[:, tr[0]:tr[1]]
    x_te, y_te = x[:, te[0]:te[1]], road[:, te[0]:te[1]]
    print(f"split: train cols [{tr[0]},{tr[1]}) road {y_tr.mean():.4f} ({int(y_tr.sum())} px), "
          f"test cols [{te[0]},{te[1]}) road {y_te.mean():.4f} ({int(y_te.sum())} px), gap {gap}")

    model = UNet()
    nparam = sum(p.numel() for p in model.parameters())
    macs512 = conv_macs(model, 512, 512)
    print(f"model: {nparam} parameters, {macs512 / 1e9:.3f} GMAC "
          f"({2 * macs512 / 1e9:.3f} GFLOP) per 512x512")

    sampler = CropSampler(x_tr, y_tr.astype(np.int64), args.crop, rng, args.road_frac)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.iters, pct_start=0.1)
    cw = torch.tensor([1.0, args.road_weight])

    t0 = time.time()
    model.train()
    hist = []
    run = 0.0
    for it in range(1, args.iters + 1):
        xb, yb = sampler.sample(args.batch)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb, weight=cw)
        if args.dice > 0:
            p = torch.softmax(logits, 1)[:, 1]
            t = (yb == 1).float()
            inter = (p * t).sum()
            dice = 1 - (2 * inter + 1) / (p.sum() + t.sum() + 1)
            loss = loss + args.dice * dice
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run = loss.item() if it == 1 else 0.98 * run + 0.02 * loss.item()
        if it % 50 == 0 or it == args.iters:
            el = time.time() - t0
            print(f"it {it:5d}  loss {run:.4f}  lr {sched.get_last_lr()[0]:.2e}  "
                  f"{el:6.0f}s  (eta {el / it * (args.iters - it):.0f}s)", flush=True)
            hist.append({"iter": it, "loss_ema": round(run, 5)})
    train_time = time.time() - t0

    # ---- evaluation -------------------------------------------------------
    model.eval()
    lg_te = predict(model, x_te)
    lg_tr = predict(model, x_tr)
    m_te = metrics(lg_te.argmax(0) == 1, y_te)
    m_tr = metrics(lg_tr.argmax(0) == 1, y_tr)
    for name, m in (("test", m_te), ("train", m_tr)):
        print(f"{name:5s}: acc {m['pixel_accuracy']:.4f}  road IoU {m['road_iou']:.4f}  "
              f"P {m['road_precision']:.4f} R {m['road_recall']:.4f} F1 {m['road_f1']:.4f}  "
              f"bg IoU {m['background_iou']:.4f}  mIoU {m['miou']:.4f}  "
              f"(relaxed {m['relaxed_px']}px P {m['relaxed_road_precision']:.3f} "
              f"R {m['relaxed_road_recall']:.3f})")

    radius = receptive_radius(model)
    print(f"receptive radius {radius} px (receptive field {2 * radius + 1} px)")
    assert radius < gap, "the gap is narrower than the receptive radius"

    # Tiling: a 4-aligned window with a 32 px halo reproduces the whole-strip
    # logits in its centre (luojia's tiled inference relies on this).
    r0, c0, sz, halo = 600, 64, 128, -(-radius // ALIGN) * ALIGN
    assert r0 % ALIGN == 0 and c0 % ALIGN == 0 and c0 >= halo
    win = x_te[r0 - halo:r0 + sz + halo, c0 - halo:c0 + sz + halo]
    tile_diff = float(np.abs(predict(model, win)[:, halo:halo + sz, halo:halo + sz]
                             - lg_te[:, r0:r0 + sz, c0:c0 + sz]).max())
    print(f"tiling check (halo {halo}): max |diff| {tile_diff:.2e}")

    # ---- export -----------------------------------------------------------
    buf = io.BytesIO()
    ex = torch.from_numpy(np.ascontiguousarray(x_te[:256, :256]))[None, None]
    torch.onnx.export(model, (ex,), buf, opset_version=17,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {2: "h", 3: "w"},
                                    "logits": {2: "h", 3: "w"}},
                      do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    meta = {
        "bands": [1],
        "scale": SCALE,
        "mean": [mean],
        "std": [std],
        "classes": CLASSES,
        "description": ("luojia demo road segmentation: a small U-Net (8/16/32) for 0.3 m "
                        "panchromatic imagery, trained on one WorldView-3 tile of Las Vegas "
                        "with SpaceNet 3 road labels (centre-lines buffered to ~4 m); "
                        "licence CC BY-SA 4.0, derived from SpaceNet"),
    }
    for k, v in (("luojia", json.dumps(meta)), ("license", LICENSE)):
        p = proto.metadata_props.add()
        p.key, p.value = k, v
    proto.doc_string = meta["description"]
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    assert len(data) < 2 * 1024 * 1024, f"model is {len(data)} bytes"
    os.makedirs(os.path.dirname(os.path.abspath(args.out_model)), exist_ok=True)
    with open(args.out_model, "wb") as f:
        f.write(data)
    ops = sorted({n.op_type for n in proto.graph.node})
    print(f"wrote {args.out_model}: {len(data)} bytes, ops {ops}")

    # ---- verify the file that ships ----------------------------------------
    verify = {"onnx_checker": "passed (full_check)", "ops": ops}
    reloaded = onnx.load(args.out_model)
    props = {p.key: p.value for p in reloaded.metadata_props}
    assert json.loads(props["luojia"]) == meta and props["license"] == LICENSE
    # the model re-run on the test strip gives bit-identical logits
    assert np.array_equal(predict(model, x_te), lg_te)
    verify["torch_rerun_identical"] = True
    if not args.no_verify:
        t1 = time.time()
        lg_np = run_onnx_numpy(reloaded, pad_aligned(x_te)[None, None])[0]
        lg_np = lg_np[:, :x_te.shape[0], :x_te.shape[1]]
        d = float(np.abs(lg_np - lg_te).max())
        same = float(np.mean((lg_np.argmax(0) == 1) == (lg_te.argmax(0) == 1)))
        m_np = metrics(lg_np.argmax(0) == 1, y_te)
        print(f"numpy ONNX evaluation of the test strip ({time.time() - t1:.0f}s): "
              f"max |diff| {d:.2e}, same class {same:.6f}, road IoU {m_np['road_iou']:.4f}")
        assert d < 1e-3, "the ONNX graph does not reproduce the PyTorch logits"
        verify["numpy_onnx_max_abs_diff_test_strip"] = d
        verify["numpy_onnx_same_class_fraction"] = same
        verify["numpy_onnx_road_iou_test"] = m_np["road_iou"]
        try:
            import cv2
            # OpenCV 4.6 cannot import symbolic H and W: give it a copy
            # with the padded test strip's size fixed.
            xp = pad_aligned(x_te)
            fixed = onnx.load(args.out_model)
            for vi in (fixed.graph.input[0], fixed.graph.output[0]):
                dims = vi.type.tensor_type.shape.dim
                dims[2].dim_value, dims[3].dim_value = xp.shape
            net = cv2.dnn.readNetFromONNX(fixed.SerializeToString())
            net.setInput(xp[None, None])
            lg_cv = net.forward()[0][:, :x_te.shape[0], :x_te.shape[1]]
            dcv = float(np.abs(lg_cv - lg_te).max())
            verify["opencv_dnn"] = {"version": cv2.__version__, "max_abs_diff_test_strip": dcv}
            print(f"OpenCV {cv2.__version__} DNN on the test strip: max |diff| {dcv:.2e}")
        except Exception as e:  # optional second runtime
            verify["opencv_dnn"] = {"error": str(e).strip().splitlines()[-1][:300]}
            print("OpenCV DNN could not run the model:", verify["opencv_dnn"]["error"])

    wall = time.time() - t_start
    gt = ds.GetGeoTransform()
    report = {
        "model": os.path.relpath(args.out_model, ROOT),
        "model_bytes": len(data),
        "architecture": {
            "type": "U-Net, 3 levels, Conv3x3+BatchNorm+ReLU x2 per block, 2x MaxPool2d(2), "
                    "bilinear upsampling (align_corners=False) + skip concat, 1x1 head",
            "widths": list(WIDTHS), "input_bands": 1, "classes": [c["name"] for c in CLASSES],
            "output": "logits (N, 2, H, W); class = argmax",
            "parameters": nparam,
            "gmac_per_512x512": round(macs512 / 1e9, 4),
            "gflop_per_512x512": round(2 * macs512 / 1e9, 4),
            "receptive_radius_px": radius,
            "receptive_field_px": 2 * radius + 1,
            "shift_equivariance": "exact for shifts that are multiples of 4 px",
            "onnx_opset": 17,
        },
        "data": {
            "image": "data/road_mask_input.tif (WorldView-3 panchromatic, Las Vegas, "
                     f"{W}x{H} UInt16, EPSG:4326, pixel {gt[1]:.2e} deg, about 0.30 m N-S x 0.24 m E-W)",
            "labels": "data/sample_road_raster_mask.tif (SpaceNet 3 road centre-lines, buffered; "
                      "{0,255}, 255 = road)",
            "source": "solaris repository sample data (SpaceNet 3)",
            "license": "CC BY-SA 4.0; SpaceNet on AWS, CosmiQ Works / Maxar",
            "road_fraction_whole_image": float(road.mean()),
            "label_notes": [
                "the road mask is about 4 m wide in total (13-14 rows across east-west roads, "
                "15-16 columns across north-south roads at 0.30 x 0.24 m pixels), i.e. the "
                "centre-lines are buffered by about 2 m on each side; the paved carriageways "
                "are wider (about 30 rows, 9 m, on the northern road), so predictions that "
                "cover the whole carriageway count as false positives",
                "on the east-west road at rows ~683-735 the mask covers only the dark southern "
                "asphalt band (rows ~713-731), not the lighter band north of it",
                "at least one clearly paved segment in the training strip is not labelled "
                "(dark asphalt at about columns 730-770, rows 350-690), so it is trained as "
                "background and the model learns to leave it out",
            ],
        },
        "split": {
            "kind": "columns (spatial, non-overlapping)",
            "train": {"cols": list(tr), "rows": [0, H], "road_pixels": int(y_tr.sum()),
                      "road_fraction": float(y_tr.mean())},
            "gap": {"cols": [min(tr[1], te[1]), max(tr[0], te[0])], "width_px": gap,
                    "note": "seen by neither training nor test inference"},
            "test": {"cols": list(te), "rows": [0, H], "road_pixels": int(y_te.sum()),
                     "road_fraction": float(y_te.mean())},
            "test_inference": "one pass over the whole test strip alone, reflect-padded on the "
                              "right to a multiple of 4 as luojia does (zero padding of the "
                              "convolutions at its borders), class = argmax of the logits",
            "note": "the test strip holds the eastern ends of the two east-west roads that "
                    "cross the training strip: it measures generalisation to unseen pixels of "
                    "the same scene, not to a new scene",
        },
        "normalisation": {
            "formula": "x = (raw * scale - mean) / std",
            "scale": SCALE, "mean": mean, "std": std,
            "computed_on": "training strip",
        },
        "training": {
            "iterations": args.iters, "batch": args.batch, "crop": args.crop,
            "augmentation": "random flips and 90-degree rotations (8 dihedral transforms)",
            "crop_sampling": f"{args.road_frac:.0%} centred (with jitter) on a random road pixel, "
                             "rest uniform; all inside the training strip",
            "loss": f"cross-entropy with class weights [1, {args.road_weight}]"
                    + (f" + {args.dice} x soft dice on the road class" if args.dice > 0 else ""),
            "optimiser": f"Adam, weight decay 1e-4, one-cycle lr max {args.lr}",
            "seed": args.seed,
            "threads": torch.get_num_threads(),
            "train_seconds": round(train_time, 1),
            "loss_history": hist,
            "hyperparameters_selected_on_test": False,
        },
        "metrics": {"test": m_te, "train": m_tr},
        "tiling_check": {"window": [r0, c0, sz, sz], "halo_px": halo,
                         "max_abs_diff_vs_whole_strip": tile_diff},
        "verification": verify,
        "wall_seconds": round(time.time() - t_start, 1),
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "onnx": onnx.__version__, "gdal": gdal.__version__,
                        "numpy": np.__version__, "machine": platform.machine()},
        "reproduce": "/usr/bin/python3 tools/train_demo_model.py"
                     + "".join(f" --{k.replace('_', '-')} {v}" for k, v in (
                         ("iters", args.iters), ("batch", args.batch), ("lr", args.lr),
                         ("road_weight", args.road_weight), ("dice", args.dice),
                         ("road_frac", args.road_frac), ("seed", args.seed))),
    }
    with open(args.out_metrics, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out_metrics}; wall time {wall:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
