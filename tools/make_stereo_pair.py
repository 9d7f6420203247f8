#!/usr/bin/python3
"""A rectified stereo pair of known disparity, rendered from the bundled SpaceNet 4 Atlanta image.

The image (0.5 m GSD, EPSG:32616) is the scene's texture; its building footprints
(data/spacenet4_buildings.geojson) are extruded to heights drawn from a seeded generator over a
smooth terrain. Two views look at that surface along the rows from either side (base-to-height
ratio B/H): a surface point at ground column x and height h is seen at x + a*h in the left view
and at x - a*h in the right one, a = (B/H) / 2 / GSD, so its disparity is 2*a*h pixels. Each view
is rendered row by row with a z-buffer (4 samples per ground pixel; the highest point a pixel sees
wins), so roofs hide what is behind them as in real pairs. The true disparity is written on the
left view's grid with the occluded pixels (seen by the left view only) marked nodata.

Larger scenes than the texture mirror it (and its footprints) in both directions. Radiometric
differences between the views, as two satellite passes have, are optional: gain, offset and a
gamma on the right view, plus noise on both.

Usage: make_stereo_pair.py OUT_FOLDER [--size N] [--base-to-height R] [--seed S] [--radiometry]
Writes left.tif, right.tif (UInt16, the texture's georeferencing), truth.tif (Float32 disparity,
nodata -9999 where the right view cannot see the point), heights.tif (the surface in metres, on the texture's grid) and pair.json.
"""
import argparse
import json
import os

import numpy as np
import rasterio
from rasterio import features
from rasterio.transform import Affine

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")


def mirrored(a, size):
    """a (H, W) tiled by mirroring to size x size."""
    h, w = a.shape
    reps_y, reps_x = -(-size // h), -(-size // w)
    band = np.concatenate([a if (i % 2 == 0) else a[:, ::-1] for i in range(reps_x)], axis=1)
    full = np.concatenate([band if (j % 2 == 0) else band[::-1, :] for j in range(reps_y)], axis=0)
    return full[:size, :size]


def surface(size, transform, seed):
    """Heights in metres: terrain plus extruded footprints (mirrored with the texture)."""
    rng = np.random.default_rng(seed)
    with open(os.path.join(DATA, "spacenet4_buildings.geojson")) as f:
        buildings = json.load(f)["features"]
    with rasterio.open(os.path.join(DATA, "spacenet4_atlanta.tif")) as src:
        h0, w0 = src.height, src.width
    heights = rng.uniform(4.0, 30.0, len(buildings))
    shapes = [(b["geometry"], float(z)) for b, z in zip(buildings, heights)]
    roofs = features.rasterize(shapes, out_shape=(h0, w0), transform=transform, fill=0.0, dtype="float32")
    roofs = mirrored(roofs, size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    terrain = 12.0 + 5.0 * np.sin(xx / 310.0 + 0.7) + 4.0 * np.cos(yy / 270.0) + 2.0 * np.sin((xx + yy) / 130.0)
    return (terrain + roofs).astype(np.float64)


def render(texture, height, a, sign, supersample=4):
    """One view: each ground sample (x, h) lands at x + sign*a*h; the highest wins a pixel."""
    rows, cols = texture.shape
    image = np.zeros((rows, cols), np.float64)
    seen_height = np.full((rows, cols), -np.inf)
    xs = (np.arange(cols * supersample) + 0.5) / supersample - 0.5
    for y in range(rows):
        t = np.interp(xs, np.arange(cols), texture[y])
        h = np.interp(xs, np.arange(cols), height[y])
        target = np.rint(xs + sign * a * h).astype(np.int64)
        inside = (target >= 0) & (target < cols)
        order = np.argsort(h[inside], kind="stable")  # lowest first: higher points overwrite
        tx, th, tt = target[inside][order], h[inside][order], t[inside][order]
        # A pixel shows its highest samples (those within 25 cm of the top), averaged.
        image_row = np.zeros(cols)
        counts = np.zeros(cols)
        best = np.full(cols, -np.inf)
        np.maximum.at(best, tx, th)
        top = th >= best[tx] - 0.25
        np.add.at(image_row, tx[top], tt[top])
        np.add.at(counts, tx[top], 1)
        image[y] = np.where(counts > 0, image_row / np.maximum(counts, 1), 0)
        seen_height[y] = best
    return image, seen_height


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--size", type=int, default=900)
    p.add_argument("--base-to-height", type=float, default=0.4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--radiometry", action="store_true", help="gain, offset, gamma and noise between the views")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with rasterio.open(os.path.join(DATA, "spacenet4_atlanta.tif")) as src:
        texture0 = src.read(1).astype(np.float64)
        transform, crs = src.transform, src.crs
    gsd = transform.a
    texture = mirrored(texture0, args.size)
    height = surface(args.size, transform, args.seed)
    a = args.base_to_height / 2.0 / gsd
    left, left_h = render(texture, height, a, +1)
    right, right_h = render(texture, height, a, -1)
    # The true disparity of a left pixel: that of the surface point it sees (2*a*h). None where no
    # ground sample reached it, or where the right view does not see that point (occluded: at
    # x - d it sees something higher).
    d = 2.0 * a * left_h
    xs = np.arange(args.size)[None, :] - np.where(np.isfinite(d), d, 0)
    xr = np.clip(np.rint(xs).astype(np.int64), 0, args.size - 1)
    seen_right = np.take_along_axis(right_h, xr, axis=1)
    visible = np.isfinite(left_h) & (xs >= 0) & (np.abs(seen_right - left_h) <= 0.5)
    truth = np.where(visible, d, -9999.0)
    rng = np.random.default_rng(args.seed + 1)
    if args.radiometry:
        right = 1.15 * np.power(np.maximum(right, 0) / 2047.0, 0.9) * 2047.0 + 35.0
        left = left + rng.normal(0, 4.0, left.shape)
        right = right + rng.normal(0, 4.0, right.shape)
    profile = dict(driver="GTiff", width=args.size, height=args.size, count=1, crs=crs, transform=transform,
                   tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    with rasterio.open(os.path.join(args.out, "left.tif"), "w", dtype="uint16", **profile) as dst:
        dst.write(np.clip(np.rint(left), 0, 65535).astype(np.uint16), 1)
    with rasterio.open(os.path.join(args.out, "right.tif"), "w", dtype="uint16", **profile) as dst:
        dst.write(np.clip(np.rint(right), 0, 65535).astype(np.uint16), 1)
    with rasterio.open(os.path.join(args.out, "truth.tif"), "w", dtype="float32", nodata=-9999.0, **profile) as dst:
        dst.write(truth.astype(np.float32), 1)
    with rasterio.open(os.path.join(args.out, "heights.tif"), "w", dtype="float32", **profile) as dst:
        dst.write(height.astype(np.float32), 1)
    valid = truth != -9999.0
    info = {"size": args.size, "gsd": gsd, "base_to_height": args.base_to_height, "pixels_per_metre": 2 * a,
            "disparity_min": float(truth[valid].min()), "disparity_max": float(truth[valid].max()), "seed": args.seed, "occluded_or_outside": int((~visible).sum()),
            "radiometry": args.radiometry}
    with open(os.path.join(args.out, "pair.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
