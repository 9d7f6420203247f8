#!/usr/bin/python3
"""Generate a synthetic 4-band (B, G, R, NIR) UInt16 GeoTIFF for benchmarks.

Layout: tiled 512x512, no compression, pixel-interleaved (GDAL's default),
EPSG:32618 (UTM 18N), 10 m pixels, nodata 0 on every band.

Values are 1..10000 with spatial structure (crop parcels, smooth large-scale
gradients, a river, mild per-pixel noise) plus nodata: a diagonal no-data
corner like the collar of a rotated scene, and sparse per-band dropouts so
that the "any band is nodata" rule matters.

The image is written one 512x512 window at a time so memory stays small
whatever the size. The file is written under a temporary name and renamed
at the end, so an interrupted run never leaves a half-written "cached" file.

Usage: make_raster.py SIZE OUT.tif [--seed N]
Deterministic for a given SIZE and seed.
"""
import argparse
import os
import sys

import numpy as np
from osgeo import gdal, osr

GENERATOR_VERSION = 1  # bump when the content changes (cache key)
BLOCK = 512
NODATA = 0


def parcel_hash(px, py, salt):
    """Deterministic pseudo-random value in [0, 1) per parcel (px, py)."""
    h = (px.astype(np.uint64) * np.uint64(73856093)) ^ (
        py.astype(np.uint64) * np.uint64(19349663)) ^ np.uint64(salt * 83492791)
    h ^= h >> np.uint64(13)
    h *= np.uint64(0x5BD1E995)
    h ^= h >> np.uint64(15)
    return (h % np.uint64(10007)).astype(np.float32) / np.float32(10007.0)


def make_block(x0, y0, w, h, size, rng):
    """Return a (4, h, w) uint16 array for the window at (x0, y0)."""
    xs = np.arange(x0, x0 + w, dtype=np.float32)[None, :]
    ys = np.arange(y0, y0 + h, dtype=np.float32)[:, None]
    # normalised coordinates so the structure scales with the image
    u = xs / np.float32(size)
    v = ys / np.float32(size)

    # Crop parcels of ~ 1.5 % of the image side, slightly sheared.
    psize = max(16.0, size / 64.0)
    px = np.floor((xs + 0.15 * ys) / psize)
    py = np.floor(ys / psize)
    veg_parcel = parcel_hash(px, py, 1)                # vegetation fraction
    soil_parcel = parcel_hash(px, py, 2)               # soil brightness

    # Large-scale smooth modulation (terrain / phenology gradients).
    smooth = (0.5 + 0.25 * np.sin(6.0 * u + 1.0) * np.cos(4.0 * v)
              + 0.15 * np.sin(17.0 * (u + v)))
    veg = np.clip(0.7 * veg_parcel + 0.3 * smooth, 0.0, 1.0)

    # A meandering river: low NIR, low red.
    river_x = 0.5 + 0.08 * np.sin(9.0 * v)
    water = np.abs(u - river_x) < (0.004 + 0.002 * np.sin(23.0 * v))

    noise = rng.normal(0.0, 1.0, size=(4, h, w)).astype(np.float32)

    soil = 1200.0 + 1800.0 * soil_parcel
    blue = 400.0 + 0.35 * soil * (1.0 - veg) + 150.0 * veg + 40.0 * noise[0]
    green = 500.0 + 0.45 * soil * (1.0 - veg) + 450.0 * veg + 50.0 * noise[1]
    red = 300.0 + 0.9 * soil * (1.0 - veg) + 150.0 * veg + 60.0 * noise[2]
    nir = 1500.0 + 0.8 * soil * (1.0 - veg) + 5500.0 * veg + 150.0 * noise[3]

    bands = np.stack(np.broadcast_arrays(blue, green, red, nir)).copy()
    bands[0][water] = 600.0 + 20.0 * noise[0][water]
    bands[1][water] = 700.0 + 20.0 * noise[1][water]
    bands[2][water] = 450.0 + 20.0 * noise[2][water]
    bands[3][water] = 150.0 + 15.0 * noise[3][water]
    out = np.clip(np.rint(bands), 1, 10000).astype(np.uint16)

    # No-data collar: the top-left triangle (like a rotated scene footprint).
    collar = (xs + ys) < np.float32(0.12 * size)
    out[:, np.broadcast_to(collar, (h, w))] = NODATA
    # Sparse single-band dropouts (about 0.05 % of pixels per band).
    for b in range(4):
        drop = rng.random((h, w), dtype=np.float32) < 5e-4
        out[b][drop] = NODATA
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("size", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=12345)
    args = ap.parse_args()

    size = args.size
    gdal.UseExceptions()
    gdal.SetCacheMax(64 * 1024 * 1024)

    tmp = args.out + ".partial"
    drv = gdal.GetDriverByName("GTiff")
    ds = drv.Create(tmp, size, size, 4, gdal.GDT_UInt16, options=[
        "TILED=YES", f"BLOCKXSIZE={BLOCK}", f"BLOCKYSIZE={BLOCK}",
        "COMPRESS=NONE", "INTERLEAVE=PIXEL", "BIGTIFF=IF_SAFER"])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32618)
    ds.SetProjection(srs.ExportToWkt())
    ds.SetGeoTransform((399960.0, 10.0, 0.0, 4500000.0, 0.0, -10.0))
    for b, name in enumerate(("blue", "green", "red", "nir"), start=1):
        band = ds.GetRasterBand(b)
        band.SetNoDataValue(NODATA)
        band.SetDescription(name)
    ds.SetMetadataItem("LUOJIA_BENCH_GENERATOR", f"v{GENERATOR_VERSION} seed={args.seed}")

    nb = (size + BLOCK - 1) // BLOCK
    for by in range(nb):
        for bx in range(nb):
            x0, y0 = bx * BLOCK, by * BLOCK
            w, h = min(BLOCK, size - x0), min(BLOCK, size - y0)
            # per-block seed: deterministic and independent of the visit order
            rng = np.random.default_rng([args.seed, size, by, bx])
            data = make_block(x0, y0, w, h, size, rng)
            ds.WriteRaster(x0, y0, w, h, data.tobytes(), w, h,
                           gdal.GDT_UInt16, band_list=[1, 2, 3, 4])
        print(f"\r  make_raster {size}x{size}: row {by + 1}/{nb}", end="",
              file=sys.stderr, flush=True)
    print("", file=sys.stderr)
    ds.FlushCache()
    ds = None
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
