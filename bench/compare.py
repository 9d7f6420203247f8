#!/usr/bin/python3
"""Block-wise agreement check of NDVI rasters produced by several tools.

Usage:
  compare.py --input IN.tif --red 3 --nir 4 [--tol 1e-6] [--nodata -9999]
             NAME=OUT.tif[:strict] [NAME=OUT.tif ...]

"Valid" pixels are those where red != 0 and nir != 0 (0 is the input nodata)
and red + nir != 0. Over valid pixels the script reports, for every output,
the max abs difference to a float64 reference (nir - red) / (nir + red), and
for every pair of outputs their max abs difference.

Outputs tagged ":strict" must also hold exactly NODATA on every invalid pixel
and report NODATA as their band nodata value (luojia and gdal_calc do; OTB
has no nodata handling and writes 0 where red + nir == 0, so it is compared
on valid pixels only).

The rasters are read in full-width strips of about 1 Mpixel so memory stays
small whatever the image size. Exit status 0 when every pair and every
output is within --tol and nothing strict failed, 1 otherwise.
"""
import argparse
import itertools
import sys

import numpy as np
from osgeo import gdal


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--red", type=int, required=True)
    ap.add_argument("--nir", type=int, required=True)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--nodata", type=float, default=-9999.0)
    ap.add_argument("outputs", nargs="+", metavar="NAME=PATH[:strict]")
    args = ap.parse_args()

    gdal.UseExceptions()
    gdal.SetCacheMax(128 * 1024 * 1024)

    src = gdal.Open(args.input)
    W, H = src.RasterXSize, src.RasterYSize
    red_b = src.GetRasterBand(args.red)
    nir_b = src.GetRasterBand(args.nir)

    outs = []  # (name, path, strict, dataset, band)
    ok = True
    for spec in args.outputs:
        name, _, path = spec.partition("=")
        strict = False
        if path.endswith(":strict"):
            path, strict = path[: -len(":strict")], True
        ds = gdal.Open(path)
        if (ds.RasterXSize, ds.RasterYSize) != (W, H):
            print(f"  {name}: size {ds.RasterXSize}x{ds.RasterYSize} != input {W}x{H}")
            return 1
        band = ds.GetRasterBand(1)
        notes = [f"type={gdal.GetDataTypeName(band.DataType)}",
                 f"nodata={band.GetNoDataValue()}"]
        gt_ok = np.allclose(ds.GetGeoTransform(), src.GetGeoTransform())
        srs_ok = (ds.GetSpatialRef() is not None and src.GetSpatialRef() is not None
                  and ds.GetSpatialRef().IsSame(src.GetSpatialRef()))
        notes.append("georef=" + ("OK" if gt_ok and srs_ok else
                                  f"MISMATCH(gt={'ok' if gt_ok else 'bad'},"
                                  f"crs={'ok' if srs_ok else 'bad'})"))
        if strict and band.GetNoDataValue() != args.nodata:
            notes.append(f"FAIL: nodata value is not {args.nodata:g}")
            ok = False
        if strict and not (gt_ok and srs_ok):
            ok = False
        outs.append(dict(name=name, path=path, strict=strict, ds=ds, band=band,
                         notes=notes, maxref=0.0, nonfinite=0,
                         bad_nodata=0, nodata_in_valid=0))

    pairs = list(itertools.combinations(range(len(outs)), 2))
    pair_max = {p: 0.0 for p in pairs}
    n_valid = 0

    rows = max(1, min(H, (1 << 20) // W))
    for y in range(0, H, rows):
        h = min(rows, H - y)
        red = red_b.ReadAsArray(0, y, W, h).astype(np.float64)
        nir = nir_b.ReadAsArray(0, y, W, h).astype(np.float64)
        valid = (red != 0) & (nir != 0) & ((red + nir) != 0)
        n_valid += int(valid.sum())
        ref = (nir[valid] - red[valid]) / (nir[valid] + red[valid])
        vals = []
        for o in outs:
            a = o["band"].ReadAsArray(0, y, W, h)
            v = a[valid].astype(np.float64)
            fin = np.isfinite(v)
            o["nonfinite"] += int((~fin).sum())
            o["nodata_in_valid"] += int((v == args.nodata).sum())
            if fin.any():
                o["maxref"] = max(o["maxref"], float(np.abs(v[fin] - ref[fin]).max()))
            if o["strict"]:
                o["bad_nodata"] += int((a[~valid] != np.float32(args.nodata)).sum())
            vals.append(v)
        for (i, j) in pairs:
            d = np.abs(vals[i] - vals[j])
            d = d[np.isfinite(d)]
            if d.size:
                pair_max[(i, j)] = max(pair_max[(i, j)], float(d.max()))

    print(f"  valid pixels compared: {n_valid} of {W * H} "
          f"({100.0 * n_valid / (W * H):.2f}%), tolerance {args.tol:g}")
    for o in outs:
        status = []
        if o["maxref"] >= args.tol:
            status.append("FAIL: off the float64 reference")
        if o["nonfinite"]:
            status.append(f"FAIL: {o['nonfinite']} non-finite values on valid pixels")
        if o["nodata_in_valid"]:
            status.append(f"FAIL: {o['nodata_in_valid']} valid pixels set to nodata")
        if o["strict"] and o["bad_nodata"]:
            status.append(f"FAIL: {o['bad_nodata']} invalid pixels not {args.nodata:g}")
        if status:
            ok = False
        print(f"  {o['name']:<10} max|x - ref64| = {o['maxref']:.3e}  "
              + " ".join(o["notes"] + status))
    for (i, j) in pairs:
        m = pair_max[(i, j)]
        flag = "ok" if m < args.tol else "FAIL"
        if m >= args.tol:
            ok = False
        print(f"  max|{outs[i]['name']} - {outs[j]['name']}| = {m:.3e}  {flag}")
    print("  agreement: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
