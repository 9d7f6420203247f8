#!/usr/bin/python3
"""Train luojia's bundled demo instance segmenter: building footprints on SpaceNet 4.

Run from the repository root (CPU only, one thread, ten minutes or so):

    /usr/bin/python3 tools/train_demo_segmenter.py

Needs Debian's python3-torch (1.13), python3-torchvision, python3-onnx, python3-gdal and
python3-numpy. Reads the demo detector's data (see tools/train_demo_detector.py: SpaceNet 4,
CC BY-SA 4.0, "SpaceNet on AWS, CosmiQ Works / Maxar"; footprints from OpenStreetMap, ODbL) and
writes

  data/demo_footprints.onnx          the segmenter: the demo detector's network with
                                     Ultralytics' Segment head (a mask-coefficient head
                                     per level, the Proto module on the stride-8 level:
                                     16 prototypes at stride 4), one band in, one class
                                     ("building"), dynamic H and W, opset 17, outputs
                                     output0 (1, 4+1+16, N) and output1 (1, 16, H/4, W/4);
                                     metadata as the detector's, det_type
                                     YOLO_Ultralytics_segmentation
  data/demo_footprints_accuracy.json mask AP50 and box AP50 on the held-back strip and on
                                     the training strip, the split, the label counts

The split is the detector's: training columns [0, 600), held-back columns [664, 900); a
footprint belongs to the strip holding its envelope's centre. Masks are the footprints burnt
into the image's grid (GDAL's rasteriser, pixel centres). The mask loss is Ultralytics': binary
cross-entropy of coefficients . prototypes against the instance's mask at the prototypes'
resolution, within the instance's box, per box area. The held-back strip is evaluated once,
alone, padded by reflection to a multiple of 32, masks made as luojia makes them (retina masks:
upsampled logits cropped to the box, above 0). AP50 is VOC's all-point interpolated average
precision at IoU 0.5 (mask IoU for mask AP) after NMS at 0.5. About thirty training footprints:
a demonstration of the pipeline on real labels, not a useful building segmenter.
"""

import io
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from osgeo import gdal, ogr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_detection_models as m  # noqa: E402
import train_demo_detector as d  # noqa: E402

torch.set_num_threads(1)
gdal.UseExceptions()

DATA = d.DATA
ITERATIONS = int(os.environ.get("ITERATIONS", 6000))
SEED = 4
NM = 16
CROP = 320


class TinySegmenter(m.TinyYolo8):
    def __init__(self, width=2):
        super().__init__(1, False, in_channels=1, test_init=False, width=width)
        channels = (16 * width, 24 * width, 32 * width)
        self.coef = nn.ModuleList(nn.Sequential(m.Conv(c, 16 * width), nn.Conv2d(16 * width, NM, 1)) for c in channels)
        self.proto = nn.Sequential(m.Conv(16 * width, 16, 3), nn.ConvTranspose2d(16, 16, 2, 2, 0, bias=True), m.Conv(16, 16, 3),
                                   m.Conv(16, NM, 1))

    def features(self, x):
        p3 = self.stem(x)
        p4 = self.down4(p3)
        p5 = self.down5(p4)
        p4 = p4 + F.interpolate(self.lat4(p5), scale_factor=2.0, mode="nearest")
        return [p3, p4, p5]

    def forward(self, x):
        feats = self.features(x)
        b = x.shape[0]
        outs = [torch.cat((self.box[i](f), self.cls[i](f)), 1).view(b, self.no, -1) for i, f in enumerate(feats)]
        mc = torch.cat([self.coef[i](f).view(b, NM, -1) for i, f in enumerate(feats)], 2)
        anchors, strides = m.make_anchors(feats)
        box, cls = torch.cat(outs, 2).split((4 * m.REG_MAX, self.nc), 1)
        n = box.shape[2]
        dist = self.dfl(box.view(b, 4, m.REG_MAX, n).transpose(2, 1).softmax(1)).view(b, 4, n)
        lt, rb = dist.chunk(2, 1)
        x1y1, x2y2 = anchors - lt, anchors + rb
        dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides
        return torch.cat((dbox, cls.sigmoid(), mc), 1), self.proto(feats[0])


def load_masks(shape):
    """Each footprint burnt into the image's grid: an instance-id raster (0: none, k + 1: footprint k)."""
    src = gdal.Open(os.path.join(DATA, "spacenet4_atlanta.tif"))
    mem = gdal.GetDriverByName("MEM").Create("", shape[1], shape[0], 1, gdal.GDT_UInt16)
    mem.SetGeoTransform(src.GetGeoTransform())
    mem.SetProjection(src.GetProjection())
    vec = ogr.Open(os.path.join(DATA, "spacenet4_buildings.geojson"))
    layer = vec.GetLayer(0)
    for k, f in enumerate(layer):
        g = f.GetGeometryRef()
        tmp = ogr.GetDriverByName("Memory").CreateDataSource("")
        lyr = tmp.CreateLayer("one", layer.GetSpatialRef(), ogr.wkbPolygon)
        feat = ogr.Feature(lyr.GetLayerDefn())
        feat.SetGeometry(g)
        lyr.CreateFeature(feat)
        gdal.RasterizeLayer(mem, [1], lyr, burn_values=[k + 1])
    return mem.GetRasterBand(1).ReadAsArray().astype(np.int64)


def raw_outputs(model, x):
    feats = model.features(x)
    boxes, logits, coefs, centres, strides = [], [], [], [], []
    for i, (f, s) in enumerate(zip(feats, m.STRIDES)):
        b = model.box[i](f)[0]
        c = model.cls[i](f)[0, 0]
        h, w = c.shape
        boxes.append(b.view(4, m.REG_MAX, h * w).permute(2, 0, 1))
        logits.append(c.reshape(-1))
        coefs.append(model.coef[i](f)[0].view(NM, h * w).T)
        yy, xx = torch.meshgrid((torch.arange(h) + 0.5) * s, (torch.arange(w) + 0.5) * s, indexing="ij")
        centres.append(torch.stack((xx.reshape(-1), yy.reshape(-1)), 1))
        strides.append(torch.full((h * w,), float(s)))
    return (torch.cat(boxes), torch.cat(logits), torch.cat(coefs), torch.cat(centres), torch.cat(strides),
            model.proto(feats[0])[0])


def loss_of(model, x, gt, ids, masks):
    """The detector's loss plus Ultralytics' mask loss. gt: boxes (K, 4); ids: their instance
    ids; masks: the crop's instance-id raster."""
    box, logit, coef, centres, strides, protos = raw_outputs(model, x)
    assigned, dist = d.targets(gt, centres, strides)
    pos = assigned >= 0
    cls_loss = F.binary_cross_entropy_with_logits(logit, pos.float(), reduction="sum") / max(1, int(pos.sum()))
    if pos.sum() == 0:
        return cls_loss
    p = box[pos]
    t = dist[pos].clamp(0, m.REG_MAX - 1.01)
    lo = t.floor().long()
    wl = lo.float() + 1 - t
    logp = F.log_softmax(p, -1)
    dfl = -(logp.gather(-1, lo[..., None])[..., 0] * wl + logp.gather(-1, (lo + 1)[..., None])[..., 0] * (1 - wl)).mean()
    expected = (F.softmax(p, -1) * torch.arange(m.REG_MAX, dtype=torch.float)).sum(-1)
    l1 = (expected - t).abs().mean()
    # Masks at the prototypes' resolution: each positive anchor's instance, within its box.
    ph, pw = protos.shape[1:]
    small = F.interpolate(masks[None, None].float(), size=(ph, pw), mode="nearest")[0, 0]
    k = assigned[pos]
    target = (small[None] == ids[k][:, None, None]).float()
    pred = (coef[pos] @ protos.view(NM, -1)).view(-1, ph, pw)
    xs, ys = (torch.arange(pw) + 0.5) * 4, (torch.arange(ph) + 0.5) * 4
    b = gt[k]
    inside = ((xs[None, None, :] >= b[:, 0, None, None]) & (xs[None, None, :] < b[:, 2, None, None]) &
              (ys[None, :, None] >= b[:, 1, None, None]) & (ys[None, :, None] < b[:, 3, None, None])).float()
    bce = F.binary_cross_entropy_with_logits(pred, target, reduction="none")
    mask_loss = ((bce * inside).sum((1, 2)) / inside.sum((1, 2)).clamp(min=1)).mean()
    return cls_loss + dfl + l1 + mask_loss


def predict(model, x, conf=0.25, iou=0.5):
    """Boxes (xyxy), scores and masks (padded image's size) as luojia makes them."""
    with torch.no_grad():
        y, protos = model(x)
    y, protos = y[0], protos[0]
    score = y[4]
    keep = score >= conf
    b, s, c = y[:4, keep].T, score[keep], y[5:, keep].T
    xyxy = torch.stack((b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2), 1)
    k = torchvision.ops.nms(xyxy, s, iou)
    xyxy, s, c = xyxy[k], s[k], c[k]
    h, w = x.shape[2:]
    if len(k) == 0:
        return xyxy.numpy(), s.numpy(), np.zeros((0, h, w), bool)
    up = F.interpolate((c @ protos.view(NM, -1)).view(1, -1, *protos.shape[1:]), size=(h, w), mode="bilinear", align_corners=False)[0]
    cols, rows = torch.arange(w)[None, None, :], torch.arange(h)[None, :, None]
    crop = (cols >= xyxy[:, 0, None, None]) & (cols < xyxy[:, 2, None, None]) & (rows >= xyxy[:, 1, None, None]) & (rows < xyxy[:, 3, None, None])
    return xyxy.numpy(), s.numpy(), ((up > 0) & crop).numpy()


def mask_ap50(pred_masks, scores, gt_masks):
    if len(gt_masks) == 0:
        return float("nan"), 0.0
    order = np.argsort(-scores)
    matched = np.zeros(len(gt_masks), bool)
    tp = np.zeros(len(order))
    for i, j in enumerate(order):
        inter = np.array([(pred_masks[j] & g).sum() for g in gt_masks])
        union = np.array([(pred_masks[j] | g).sum() for g in gt_masks])
        ious = inter / np.maximum(union, 1)
        cand = [k for k in np.argsort(-ious) if ious[k] >= 0.5 and not matched[k]]
        if cand:
            matched[cand[0]] = True
            tp[i] = 1
    return d.voc_ap(tp, len(gt_masks))


def strip_instances(boxes, instance_ids, cols, height):
    """The strip's footprints (those whose envelope's centre it holds): boxes clipped to it and
    their ids."""
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    keep = (cx >= cols[0]) & (cx < cols[1])
    return d.strip_boxes(boxes, cols, height), np.nonzero(keep)[0] + 1


def main():
    started = time.time()
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    image, boxes = d.load()
    ids_raster = load_masks(image.shape)
    h = image.shape[0]
    train, test = image[:, d.TRAIN[0]:d.TRAIN[1]], image[:, d.TEST[0]:d.TEST[1]]
    valid = train[train > 0]
    mean, std = float(valid.mean()), float(valid.std())
    train_boxes, train_ids = strip_instances(boxes, None, d.TRAIN, h)
    test_boxes, test_ids = strip_instances(boxes, None, d.TEST, h)
    train_masks = ids_raster[:, d.TRAIN[0]:d.TRAIN[1]]
    print(f"{len(boxes)} footprints: {len(train_boxes)} in the training strip, {len(test_boxes)} in the test strip")
    model = TinySegmenter()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=5e-3, total_steps=ITERATIONS)
    base = d.normalise(train, mean, std)
    for it in range(ITERATIONS):
        x, b, ids = base, train_boxes.copy(), train_masks
        hh, ww = x.shape
        if rng.random() < 0.5:
            x, ids = x[:, ::-1], ids[:, ::-1]
            b[:, [0, 2]] = ww - b[:, [2, 0]]
        if rng.random() < 0.5:
            x, ids = x[::-1], ids[::-1]
            b[:, [1, 3]] = hh - b[:, [3, 1]]
        if rng.random() < 0.5:
            x, ids = x.T, ids.T
            b = b[:, [1, 0, 3, 2]]
        hh, ww = x.shape
        y0, x0 = rng.integers(0, hh - CROP + 1), rng.integers(0, ww - CROP + 1)
        crop = np.ascontiguousarray(x[y0:y0 + CROP, x0:x0 + CROP])
        crop_ids = torch.from_numpy(np.ascontiguousarray(ids[y0:y0 + CROP, x0:x0 + CROP]))
        cb = b - [x0, y0, x0, y0]
        clipped = np.clip(cb, 0, CROP)
        area = (cb[:, 2] - cb[:, 0]) * (cb[:, 3] - cb[:, 1])
        kept = ((clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])) >= 0.5 * area
        loss = loss_of(model, torch.from_numpy(crop)[None, None], torch.tensor(clipped[kept], dtype=torch.float),
                       torch.from_numpy(train_ids[kept]), crop_ids)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if it % 100 == 0:
            print(f"iteration {it}: loss {loss.item():.3f}", flush=True)
    model.eval()

    def evaluate(strip, cols, gt_boxes, gt_ids):
        x = torch.from_numpy(np.ascontiguousarray(d.pad32(d.normalise(strip, mean, std))))[None, None]
        pred, scores, masks = predict(model, x)
        sh, sw = strip.shape
        inside = ((pred[:, 0] + pred[:, 2]) / 2 < sw) & ((pred[:, 1] + pred[:, 3]) / 2 < sh)
        masks = masks[inside][:, :sh, :sw]
        strip_ids = ids_raster[:, cols[0]:cols[1]]
        gt_masks = [strip_ids == k for k in gt_ids]
        box_ap, box_recall = d.ap50(pred[inside], scores[inside], gt_boxes)
        ap, recall = mask_ap50(masks, scores[inside], gt_masks)
        return {"mask_ap50": round(ap, 4), "mask_recall": round(recall, 4), "box_ap50": round(box_ap, 4),
                "box_recall": round(box_recall, 4), "instances": int(inside.sum()), "labels": len(gt_masks)}

    result = {"test_strip": evaluate(test, d.TEST, test_boxes, test_ids), "training_strip": evaluate(train, d.TRAIN, train_boxes, train_ids)}
    print(json.dumps(result))
    reach = (m.REG_MAX - 1) * max(m.STRIDES)
    metadata = {"model_type": json.dumps("Detector"), "class_names": json.dumps({"0": "building"}),
                "det_conf": json.dumps(0.25), "det_iou_thresh": json.dumps(0.5),
                "det_type": json.dumps("YOLO_Ultralytics_segmentation"),
                "luojia": json.dumps({"bands": [1], "scale": 1.0, "mean": [mean], "std": [std], "box_reach": reach}),
                "license": "CC BY-SA 4.0: trained on SpaceNet 4 (SpaceNet on AWS, CosmiQ Works / Maxar)"}
    buf = io.BytesIO()
    torch.onnx.export(model, torch.zeros(1, 1, 64, 96), buf, opset_version=m.OPSET, input_names=["images"],
                      output_names=["output0", "output1"],
                      dynamic_axes={"images": {2: "height", 3: "width"}, "output0": {2: "anchors"},
                                    "output1": {2: "mask_height", 3: "mask_width"}})
    onnx_model = onnx.load_from_string(buf.getvalue())
    for key, value in metadata.items():
        onnx_model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, os.path.join(DATA, "demo_footprints.onnx"))
    report = {"data": "SpaceNet 4 Atlanta (solaris sample_geotiff.tif, geotiff_labels.geojson), 900x900 pan, 0.5 m",
              "labels": "footprints burnt into the image's grid; a footprint belongs to the strip holding its envelope's centre",
              "split": {"train_columns": d.TRAIN, "test_columns": d.TEST, "gap_px": d.TEST[0] - d.TRAIN[1]},
              "iterations": ITERATIONS, "seed": SEED, "prototypes": NM, "normalisation": {"mean": mean, "std": std},
              "nms_iou": 0.5, "confidence": 0.25, "metric": "VOC all-point AP at IoU 0.5 (mask IoU for mask_ap50)", **result,
              "seconds": round(time.time() - started, 1), "torch": torch.__version__}
    with open(os.path.join(DATA, "demo_footprints_accuracy.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
