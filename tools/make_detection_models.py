#!/usr/bin/python3
"""Build the two small YOLOv8-style detectors luojia's detection tests run, and
what PyTorch + torchvision (or shapely, for oriented boxes) make of the test
rasters when each raster is run whole.

Run from the repository root (CPU only, a few seconds):

    /usr/bin/python3 tools/make_detection_models.py

Needs Debian's python3-torch (1.13), python3-torchvision (0.14), python3-onnx,
python3-numpy and python3-shapely. Writes into tests/data/detection/:

  yolo8_tiny.onnx      axis-aligned boxes, 3 classes, output (1, 4+3, N)
  yolo8_obb_tiny.onnx  oriented boxes, 2 classes, output (1, 4+2+1, N)
  yolo5_tiny.onnx      YOLOv5's head: 3 anchors per cell, objectness, output (1, N, 5+2)
  <case>_input.u8      a 3-band uint8 image, C x H x W, no header
  <model>_<case>.json  the whole-image reference detections
  <model>_<case>_<tta>.json  the same with test-time augmentation (flips, d4): the
                       whole padded image run mirrored (and transposed), each run's
                       boxes carried back, all of them suppressed together
  manifest.json        models, cases, thresholds (read by the tests)

The models follow Ultralytics' Detect / OBB heads: three levels (strides 8,
16, 32) with a top-down nearest upsampling, a box branch of 4 x reg_max
distance bins decoded by DFL (softmax, then the expectation as a 1x1
convolution), a class branch through a sigmoid, and anchors made inside the
graph from the feature maps' shapes (Shape/Range/meshgrid), exported with
dynamic H and W at opset 17. The oriented head adds an angle branch,
(sigmoid - 1/4) * pi radians, and rotates the centre offset as Ultralytics'
dist2rbox does. metadata_props carry Deepness's keys (model_type, class_names,
det_conf, det_iou_thresh, det_type) and luojia's "box_reach": the farthest a
box can reach from its anchor's cell centre, (reg_max - 1) x 32 pixels for
the axis-aligned head, 1.5 x sqrt(2) times that for the oriented one.

The whole-image reference is what luojia promises its tiled runs equal:
pixels / 255; the image padded on the right and bottom to a multiple of 32 by
reflection (numpy's "reflect", a single pixel reflecting onto itself); one
network run; anchors whose cell centre lies outside the raster dropped;
scores below det_conf dropped; class-aware greedy NMS at det_iou_thresh:
torchvision.ops.batched_nms for boxes, and for oriented boxes the same greedy
rule with shapely's exact polygon IoU. Detections are in raster pixels
(x right, y down), best first.
"""

import io
import json
import math
import os

import numpy as np
import onnx
from onnx import helper, numpy_helper
import shapely.geometry
import torch
import torch.nn as nn
import torchvision

torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "tests", "data", "detection"))
OPSET = 17
STRIDES = (8, 16, 32)
REG_MAX = 8
CONF = 0.3
IOU = 0.5
# (height, width): odd sizes, smaller than the largest stride, one pixel, one row.
CASES = {"odd": (157, 203), "large": (301, 389), "wide": (83, 301), "small": (29, 45), "strip": (9, 301),
         "pixel": (1, 1), "row": (1, 97)}

# Test-time augmentation references: (case, augmentation) per model.
TTA_CASES = {"yolo8_tiny": (("large", "flips"), ("odd", "flips"), ("wide", "d4"), ("small", "d4")),
             "yolo8_obb_tiny": (("odd", "d4"), ("wide", "flips")), "yolo5_tiny": (("odd", "flips"),)}


class Conv(nn.Module):
    def __init__(self, cin, cout, k=3, s=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2)

    def forward(self, x):
        return nn.functional.silu(self.conv(x))


class TinyYolo8(nn.Module):
    def __init__(self, nc, oriented, in_channels=3, test_init=True, width=1):
        super().__init__()
        self.nc, self.oriented = nc, oriented
        self.no = 4 * REG_MAX + nc
        w = width
        self.stem = nn.Sequential(Conv(in_channels, 8 * w, 3, 2), Conv(8 * w, 16 * w, 3, 2), Conv(16 * w, 16 * w, 3, 2))
        self.down4 = Conv(16 * w, 24 * w, 3, 2)
        self.down5 = Conv(24 * w, 32 * w, 3, 2)
        self.lat4 = nn.Conv2d(32 * w, 24 * w, 1)
        channels = (16 * w, 24 * w, 32 * w)
        self.box = nn.ModuleList(nn.Sequential(Conv(c, 16 * w), nn.Conv2d(16 * w, 4 * REG_MAX, 1)) for c in channels)
        self.cls = nn.ModuleList(nn.Sequential(Conv(c, 16 * w), nn.Conv2d(16 * w, nc, 1)) for c in channels)
        if oriented:
            self.ang = nn.ModuleList(nn.Sequential(Conv(c, 8), nn.Conv2d(8, 1, 1)) for c in channels)
        self.dfl = nn.Conv2d(REG_MAX, 1, 1, bias=False)
        self.dfl.weight.data[:] = torch.arange(REG_MAX, dtype=torch.float).view(1, REG_MAX, 1, 1)
        # Weights three times PyTorch's default init, so features vary across the image rather
        # than fading through the SiLUs, and class biases below zero: a few percent of the anchors
        # score above det_conf, as with a trained detector.
        for module in self.modules():
            if test_init and isinstance(module, nn.Conv2d) and module is not self.dfl:
                module.weight.data *= 3.0
        for head in self.cls:
            head[1].bias.data.fill_(-2.0 if test_init else -4.0)
        self.dfl.weight.requires_grad_(False)

    def forward(self, x):
        p3 = self.stem(x)
        p4 = self.down4(p3)
        p5 = self.down5(p4)
        p4 = p4 + nn.functional.interpolate(self.lat4(p5), scale_factor=2.0, mode="nearest")
        feats = [p3, p4, p5]
        b = x.shape[0]
        outs = [torch.cat((self.box[i](f), self.cls[i](f)), 1).view(b, self.no, -1) for i, f in enumerate(feats)]
        anchors, strides = make_anchors(feats)
        box, cls = torch.cat(outs, 2).split((4 * REG_MAX, self.nc), 1)
        n = box.shape[2]
        dist = self.dfl(box.view(b, 4, REG_MAX, n).transpose(2, 1).softmax(1)).view(b, 4, n)
        if not self.oriented:
            lt, rb = dist.chunk(2, 1)
            x1y1 = anchors - lt
            x2y2 = anchors + rb
            dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides
            return torch.cat((dbox, cls.sigmoid()), 1)
        angle = torch.cat([self.ang[i](f).view(b, 1, -1) for i, f in enumerate(feats)], 2)
        angle = (angle.sigmoid() - 0.25) * math.pi
        lt, rb = dist.split(2, dim=1)
        cos, sin = torch.cos(angle), torch.sin(angle)
        xf, yf = ((rb - lt) / 2).split(1, dim=1)
        xy = torch.cat([xf * cos - yf * sin, xf * sin + yf * cos], 1) + anchors
        dbox = torch.cat([xy, lt + rb], 1) * strides
        return torch.cat((dbox, cls.sigmoid(), angle), 1)


class TinyYolo5(nn.Module):
    """YOLOv5's Detect head: three anchors per cell, objectness, grids made in the graph,
    output (1, N, 5 + nc): per level, the grid of cells once for each of its three anchors."""

    ANCHORS = ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))

    def __init__(self, nc):
        super().__init__()
        self.nc, self.na, self.no = nc, 3, 5 + nc
        self.stem = nn.Sequential(Conv(3, 8, 3, 2), Conv(8, 16, 3, 2), Conv(16, 16, 3, 2))
        self.down4 = Conv(16, 24, 3, 2)
        self.down5 = Conv(24, 32, 3, 2)
        self.heads = nn.ModuleList(nn.Conv2d(c, self.na * self.no, 1) for c in (16, 24, 32))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.data *= 3.0
        for head in self.heads:
            head.bias.data.view(self.na, self.no)[:, 4:] = -1.5
        self.register_buffer("anchor_sizes", torch.tensor(self.ANCHORS, dtype=torch.float).view(3, 1, 3, 1, 1, 2))

    def forward(self, x):
        p3 = self.stem(x)
        p4 = self.down4(p3)
        p5 = self.down5(p4)
        out = []
        for i, (f, s) in enumerate(zip((p3, p4, p5), STRIDES)):
            y = self.heads[i](f)
            bs, _, ny, nx = y.shape
            y = y.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).sigmoid()
            yv, xv = torch.meshgrid(torch.arange(ny, dtype=torch.float), torch.arange(nx, dtype=torch.float), indexing="ij")
            grid = torch.stack((xv, yv), 2).view(1, 1, ny, nx, 2) - 0.5
            xy = (y[..., 0:2] * 2 + grid) * s
            wh = (y[..., 2:4] * 2) ** 2 * self.anchor_sizes[i]
            out.append(torch.cat((xy, wh, y[..., 4:]), 4).view(bs, -1, self.no))
        return torch.cat(out, 1)


def make_anchors(feats):
    points, strides = [], []
    for f, s in zip(feats, STRIDES):
        h, w = f.shape[2], f.shape[3]
        sx = torch.arange(w, dtype=torch.float) + 0.5
        sy = torch.arange(h, dtype=torch.float) + 0.5
        yy, xx = torch.meshgrid(sy, sx, indexing="ij")
        points.append(torch.stack((xx, yy), -1).view(-1, 2))
        strides.append(torch.full((h * w, 1), float(s)))
    return torch.cat(points).transpose(0, 1), torch.cat(strides).transpose(0, 1)


def reflect_index(i, n):
    if n == 1:
        return np.zeros_like(i)
    period = 2 * (n - 1)
    i = np.mod(i, period)
    return np.where(i < n, i, period - i)


def make_image(case, h, w):
    rng = np.random.default_rng(sum(map(ord, case)) * 7919)
    img = rng.normal(60, 12, (3, h, w))
    # Bright and dark rectangles of several sizes: something for the detector to fire on.
    for _ in range(max(1, h * w // 900)):
        rh, rw = rng.integers(3, 40, 2)
        y, x = rng.integers(0, max(1, h), 1)[0], rng.integers(0, max(1, w), 1)[0]
        img[:, y:y + rh, x:x + rw] += rng.normal(0, 90, (3, 1, 1))
    return np.clip(img, 0, 255).astype(np.uint8)


def polygon(cx, cy, w, h, a):
    c, s = math.cos(a), math.sin(a)
    pts = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return shapely.geometry.Polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts])


# The eight symmetries of the square as luojia's test-time augmentation applies them to an image
# (transpose first, then mirrors of the result); the first four are the flips.
SYMMETRIES = [(t, fx, fy) for t in (False, True) for fy in (False, True) for fx in (False, True)]
AUGMENTATIONS = {"none": SYMMETRIES[:1], "flips": SYMMETRIES[:4], "d4": SYMMETRIES}


def candidates(model, x, h, w, symmetry):
    """The boxes above CONF of one run on the padded image x transformed by symmetry, carried back
    into the image: centre mapped back, sides swapped by a transpose, the angle negated by each
    mirror; anchors whose cell centre (mapped back) lies outside the raster dropped."""
    transpose, flip_x, flip_y = symmetry
    xt = x.transpose(0, 2, 1) if transpose else x
    if flip_x:
        xt = xt[:, :, ::-1]
    if flip_y:
        xt = xt[:, ::-1, :]
    th, tw = xt.shape[1:]
    with torch.no_grad():
        y = model(torch.from_numpy(np.ascontiguousarray(xt))[None])[0].numpy().astype(np.float64)
    # Each anchor's cell centre, level by level, as make_anchors lays them out.
    centres = []
    for s in STRIDES:
        gy, gx = np.meshgrid((np.arange(th // s) + 0.5) * s, (np.arange(tw // s) + 0.5) * s, indexing="ij")
        centres.append(np.stack((gx.ravel(), gy.ravel()), 1))
    centres = np.concatenate(centres)
    nc = model.nc
    oriented = getattr(model, "oriented", False)
    if isinstance(model, TinyYolo5):
        # (N, 5 + nc), per level the grid once for each of its three anchors; confidence = obj x class.
        centres = np.concatenate([np.tile(c, (3, 1)) for c in np.split(centres, np.cumsum(
            [(th // s) * (tw // s) for s in STRIDES])[:-1])])
        y = y.T
        scores = y[5:5 + nc] * y[4:5]
        y = np.concatenate([y[:4], scores], 0)

    def back(px, py):
        px = tw - px if flip_x else px
        py = th - py if flip_y else py
        return (py, px) if transpose else (px, py)

    cx, cy = back(centres[:, 0], centres[:, 1])
    scores = y[4:4 + nc]
    best, cls = scores.max(0), scores.argmax(0)
    idx = np.nonzero((cx < w) & (cy < h) & (best >= CONF))[0]
    bx, by = back(y[0, idx], y[1, idx])
    bw, bh = (y[3, idx], y[2, idx]) if transpose else (y[2, idx], y[3, idx])
    angle = y[4 + nc, idx] if oriented else np.zeros(len(idx))
    if (int(transpose) + int(flip_x) + int(flip_y)) % 2:
        angle = -angle
    return np.stack([bx, by, bw, bh], 1), best[idx], cls[idx], angle


def reference(model, image, oriented, augmentation="none"):
    c, h, w = image.shape
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    x = image.astype(np.float32) / 255.0
    x = x[:, reflect_index(np.arange(ph), h)][:, :, reflect_index(np.arange(pw), w)]
    parts = [candidates(model, x, h, w, s) for s in AUGMENTATIONS[augmentation]]
    boxes = np.concatenate([p[0] for p in parts])
    score = np.concatenate([p[1] for p in parts])
    label = np.concatenate([p[2] for p in parts])
    angle = np.concatenate([p[3] for p in parts])
    order = np.argsort(-score, kind="stable")
    if not oriented:
        xyxy = np.stack([boxes[:, 0] - boxes[:, 2] / 2, boxes[:, 1] - boxes[:, 3] / 2,
                         boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2], 1)
        kept = torchvision.ops.batched_nms(torch.from_numpy(xyxy), torch.from_numpy(score),
                                           torch.from_numpy(label), IOU).numpy()
    else:
        polys = [polygon(*boxes[i], angle[i]) for i in range(len(score))]
        kept, suppressed = [], np.zeros(len(score), bool)
        for i in order:
            if suppressed[i]:
                continue
            kept.append(i)
            for j in order:
                if j != i and not suppressed[j] and label[j] == label[i]:
                    inter = polys[i].intersection(polys[j]).area
                    union = polys[i].area + polys[j].area - inter
                    if union > 0 and inter / union > IOU:
                        suppressed[j] = True
        kept = np.array(kept, dtype=np.int64)
    out = []
    for i in kept:
        out.append({"class_id": int(label[i]), "score": float(score[i]), "cx": float(boxes[i, 0]),
                    "cy": float(boxes[i, 1]), "width": float(boxes[i, 2]), "height": float(boxes[i, 3]),
                    "angle": float(angle[i])})
    return out


def export(model, path, oriented, metadata):
    model.eval()
    buf = io.BytesIO()
    torch.onnx.export(model, torch.zeros(1, 3, 64, 96), buf, opset_version=OPSET, input_names=["images"],
                      output_names=["output0"], dynamic_axes={"images": {2: "height", 3: "width"},
                                                              "output0": {2: "anchors"}})
    m = onnx.load_from_string(buf.getvalue())
    for key, value in metadata.items():
        m.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return sorted({n.op_type for n in m.graph.node})


def rebuilt_yolo8_tiny():
    """yolo8_tiny rebuilt from its seed, for the tools that export it again in another form
    (make_static_detector.py, make_end_to_end_detector.py); its weights are checked against the
    committed tests/data/detection/yolo8_tiny.onnx, which is returned too."""
    torch.manual_seed(8)
    model = TinyYolo8(3, False).eval()
    committed = onnx.load(os.path.join(OUT_DIR, "yolo8_tiny.onnx"))
    found = {numpy_helper.to_array(t).tobytes() for t in committed.graph.initializer}
    weights = [p.detach().numpy() for p in model.state_dict().values() if p.dim() > 0]
    missing = [w.shape for w in weights if w.astype(np.float32).tobytes() not in found]
    if missing:
        raise SystemExit(f"the rebuilt model's weights differ from yolo8_tiny.onnx ({len(missing)} tensors)")
    return model, committed


def export_like(model, committed, name, example_shape, dynamic_axes=None):
    """Exports model as tests/data/detection/<name>.onnx with committed's metadata_props."""
    buf = io.BytesIO()
    torch.onnx.export(model, torch.zeros(*example_shape), buf, opset_version=OPSET, input_names=["images"],
                      output_names=["output0"], dynamic_axes=dynamic_axes)
    exported = onnx.load_from_string(buf.getvalue())
    for entry in committed.metadata_props:
        exported.metadata_props.append(onnx.StringStringEntryProto(key=entry.key, value=entry.value))
    onnx.checker.check_model(exported)
    onnx.save(exported, os.path.join(OUT_DIR, name + ".onnx"))


def write_references(name, cases, reference_of, manifest_key, manifest_entry):
    """Per case, reference_of(image) into <name>_<case>.json; the counts into manifest.json under
    manifest_key (with manifest_entry's other fields). Returns the counts."""
    manifest_path = os.path.join(OUT_DIR, "manifest.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    counts = {}
    for case in cases:
        h, w = manifest["cases"][case]["height"], manifest["cases"][case]["width"]
        image = np.fromfile(os.path.join(OUT_DIR, f"{case}_input.u8"), np.uint8).reshape(3, h, w)
        dets = reference_of(image)
        counts[case] = len(dets)
        with open(os.path.join(OUT_DIR, f"{name}_{case}.json"), "w") as f:
            json.dump(dets, f, indent=0)
    manifest[manifest_key] = manifest_entry(counts)
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
    return counts


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    manifest = {"conf": CONF, "iou": IOU, "strides": list(STRIDES), "reg_max": REG_MAX, "models": {}, "cases": {}}
    images = {}
    for case, (h, w) in CASES.items():
        images[case] = make_image(case, h, w)
        images[case].tofile(os.path.join(OUT_DIR, f"{case}_input.u8"))
        manifest["cases"][case] = {"height": h, "width": w}
    for name, nc, oriented in (("yolo8_tiny", 3, False), ("yolo8_obb_tiny", 2, True), ("yolo5_tiny", 2, False)):
        torch.manual_seed(12 if oriented else 8)
        if name == "yolo5_tiny":
            model = TinyYolo5(nc).eval()
            # The centre moves up to 1.5 strides from the cell's; a side is at most 4 anchors.
            reach = 1.5 * 32 + 2 * 373
        else:
            model = TinyYolo8(nc, oriented).eval()
            reach = (REG_MAX - 1) * max(STRIDES) * (1.5 * math.sqrt(2) if oriented else 1.0)
        names = {str(i): n for i, n in enumerate(["ship", "plane", "tank"][:nc])}
        metadata = {"model_type": json.dumps("Detector"), "class_names": json.dumps(names),
                    "det_conf": json.dumps(CONF), "det_iou_thresh": json.dumps(IOU),
                    "det_type": json.dumps("YOLO_v5_v7_DEFAULT" if name == "yolo5_tiny" else
                                           "YOLO_Ultralytics_obb" if oriented else "YOLO_Ultralytics"),
                    "luojia": json.dumps({"box_reach": math.ceil(reach)})}
        ops = export(model, os.path.join(OUT_DIR, name + ".onnx"), oriented, metadata)
        counts = {}
        for case in CASES:
            dets = reference(model, images[case], oriented)
            counts[case] = len(dets)
            with open(os.path.join(OUT_DIR, f"{name}_{case}.json"), "w") as f:
                json.dump(dets, f, indent=0)
        tta = {}
        for case, augmentation in TTA_CASES.get(name, ()):
            dets = reference(model, images[case], oriented, augmentation)
            tta.setdefault(augmentation, []).append(case)
            with open(os.path.join(OUT_DIR, f"{name}_{case}_{augmentation}.json"), "w") as f:
                json.dump(dets, f, indent=0)
        manifest["models"][name] = {"tta": tta, "classes": nc, "oriented": oriented, "layout": "yolo5" if name == "yolo5_tiny" else
                                    "oriented" if oriented else "yolo8", "box_reach": math.ceil(reach),
                                    "detections": counts, "ops": ops}
        print(name, counts, " ".join(ops))
    with open(os.path.join(OUT_DIR, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
