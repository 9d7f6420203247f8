#!/usr/bin/python3
"""Sliding-window U-Net segmentation with rasterio + PyTorch, the way a user writes it.

    /usr/bin/python3 bench/rasterio_segment.py IN.tif MODEL OUT.tif \
        [--tile 512] [--overlap 112] [--threads 2] [--verbose]

The baseline of bench/segment_bench.sh (Debian python3-rasterio + python3-torch).

MODEL names the network of bench/make_unet16.py: its OUT.onnx (the sibling
OUT.json gives the variant), that .json, a directory holding unet16.json (or
a single *.json written by make_unet16.py), or a variant name ("halved", ...).
The ONNX file itself is not read: the nn.Module is rebuilt with
make_unet16.build_model() (same variant, seed 0, so the same weights as the
exported graph; BatchNorm not folded, as PyTorch users run it).

What it does, one tile at a time (tiles of --tile px, row by row):
  * the window read is the tile's core plus --overlap px on every side,
    clipped at the raster border (no padding on the left/top); tile and
    overlap must be multiples of 16, so every window starts on a multiple of
    16 and the network's 2x2 pooling grid lines up with the whole image's;
  * at the right/bottom border the window is padded up to a multiple of 16
    with np.pad(mode='reflect') (mirror without repeating the edge pixel,
    as luojia-segment pads);
  * raw band values as float32 (no normalisation: the model has none);
    pixels that are nodata in any band (only if the input declares a nodata
    value or a mask) are set to 0 before the network and get class 255;
  * model(x) under torch.no_grad() in eval mode, torch.set_num_threads(T),
    argmax over the classes, the core cropped out and written as a Byte
    window to OUT (GeoTIFF, tiled 512, nodata 255, the input's profile:
    CRS, transform, size).
"""

import argparse
import glob
import json
import os
import sys
import time

import numpy as np
import rasterio
from rasterio.windows import Window
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_unet16  # noqa: E402  (bench/make_unet16.py, next to this file)

ALIGN = 16  # 2**4: four 2x max-pool levels
NODATA = 255


def variant_of(spec):
    """The make_unet16 variant named by MODEL (see the module docstring)."""
    if spec in make_unet16.VARIANTS:
        return spec
    if os.path.isdir(spec):
        cands = [os.path.join(spec, "unet16.json")]
        if not os.path.exists(cands[0]):
            cands = sorted(glob.glob(os.path.join(spec, "*.json")))
        if len(cands) != 1:
            sys.exit(f"rasterio_segment: cannot tell which model in {spec} (want one unet16.json)")
        meta = cands[0]
    elif spec.endswith(".json"):
        meta = spec
    else:
        meta = os.path.splitext(spec)[0] + ".json"
    if os.path.exists(meta):
        with open(meta) as f:
            return json.load(f).get("variant", make_unet16.DEFAULT_VARIANT)
    if not os.path.exists(spec):
        sys.exit(f"rasterio_segment: no such model: {spec}")
    return make_unet16.DEFAULT_VARIANT


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("model", help="make_unet16.py's OUT.onnx, OUT.json, its directory, or a variant name")
    ap.add_argument("output")
    ap.add_argument("--tile", type=int, default=512, help="core tile size, a multiple of 16 (default 512)")
    ap.add_argument("--overlap", type=int, default=0, help="context px read on every side, a multiple of 16")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--verbose", "-v", action="store_true", help="progress on stderr")
    args = ap.parse_args()
    tile, halo = args.tile, args.overlap
    if tile <= 0 or tile % ALIGN or halo < 0 or halo % ALIGN:
        ap.error(f"--tile and --overlap must be multiples of {ALIGN} (tile > 0)")

    torch.set_num_threads(args.threads)
    model = make_unet16.build_model(variant_of(args.model)).eval()
    t0 = time.perf_counter()

    with rasterio.open(args.input) as src:
        if src.count != make_unet16.IN_BANDS:
            sys.exit(f"rasterio_segment: the model takes {make_unet16.IN_BANDS} bands, {args.input} has {src.count}")
        width, height = src.width, src.height
        # Only look at masks when the input has nodata or a mask band: an
        # all-valid raster needs no extra reads.
        has_mask = any(flags != [rasterio.enums.MaskFlags.all_valid] for flags in src.mask_flag_enums)

        profile = src.profile.copy()
        profile.update(driver="GTiff", dtype="uint8", count=1, nodata=NODATA,
                       tiled=True, blockxsize=512, blockysize=512, compress=None,
                       interleave="band", photometric=None)
        profile = {k: v for k, v in profile.items() if v is not None}

        n_tiles = ((height + tile - 1) // tile) * ((width + tile - 1) // tile)
        done = 0
        with rasterio.open(args.output, "w", **profile) as dst, torch.no_grad():
            for cy in range(0, height, tile):
                ch = min(tile, height - cy)
                for cx in range(0, width, tile):
                    cw = min(tile, width - cx)
                    # read window: core + halo, clipped to the raster
                    x0, y0 = max(0, cx - halo), max(0, cy - halo)
                    x1, y1 = min(width, cx + cw + halo), min(height, cy + ch + halo)
                    win = Window(x0, y0, x1 - x0, y1 - y0)
                    arr = src.read(window=win, out_dtype="float32")          # (bands, h, w)
                    valid = None
                    if has_mask:
                        valid = src.read_masks(window=win).min(axis=0) > 0   # every band has data
                        arr[:, ~valid] = 0.0
                    # right/bottom border: reflect-pad up to a multiple of 16
                    pad_b = -(y1 - y0) % ALIGN
                    pad_r = -(x1 - x0) % ALIGN
                    if pad_b or pad_r:
                        arr = np.pad(arr, ((0, 0), (0, pad_b), (0, pad_r)), mode="reflect")

                    logits = model(torch.from_numpy(arr).unsqueeze(0))        # (1, classes, h, w)
                    classes = logits[0].argmax(dim=0).numpy().astype(np.uint8)

                    oy, ox = cy - y0, cx - x0
                    core = classes[oy:oy + ch, ox:ox + cw]
                    if valid is not None:
                        core = np.where(valid[oy:oy + ch, ox:ox + cw], core, NODATA).astype(np.uint8)
                    dst.write(core, 1, window=Window(cx, cy, cw, ch))
                    done += 1
                    if args.verbose:
                        print(f"\rrasterio_segment: tile {done}/{n_tiles}", end="", file=sys.stderr, flush=True)
    if args.verbose:
        print(f"\nrasterio_segment: {n_tiles} tiles of {tile} px, overlap {halo} px, "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
