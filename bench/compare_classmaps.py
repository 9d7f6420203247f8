#!/usr/bin/python3
"""Block-wise agreement of two class maps (e.g. luojia-segment vs a Python script).

    /usr/bin/python3 bench/compare_classmaps.py A.tif B.tif [--band 1] [--nodata 255]
                                                 [--min 0.999] [--strip 512]

Both rasters must have the same size. Pixels that are NODATA (default 255) in
either map are left out of the agreement; how many are nodata in one map only
is reported separately (it should be 0 when both tools see the same input).

The maps are read in full-width strips of --strip rows, so memory stays small
whatever the image size. Prints a few lines, the first of them:

    agreement 0.99998712 (99.9987%) over N pixels valid in both

then the pixels that differ, the nodata counts, and each map's class histogram.
Exit status 0 when agreement >= --min (default 0.999), 1 when it is below
(or when no pixel is valid in both), 2 on a usage error (sizes differ).
"""
import argparse
import sys

import numpy as np
from osgeo import gdal


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="first class map")
    ap.add_argument("b", help="second class map")
    ap.add_argument("--band", type=int, default=1)
    ap.add_argument("--nodata", type=int, default=255)
    ap.add_argument("--min", type=float, default=0.999, help="required agreement fraction (default 0.999)")
    ap.add_argument("--strip", type=int, default=512, help="rows read at a time (default 512)")
    args = ap.parse_args()

    gdal.UseExceptions()
    gdal.SetCacheMax(64 * 1024 * 1024)
    da, db = gdal.Open(args.a), gdal.Open(args.b)
    if (da.RasterXSize, da.RasterYSize) != (db.RasterXSize, db.RasterYSize):
        print(f"size differs: {args.a} is {da.RasterXSize}x{da.RasterYSize}, "
              f"{args.b} is {db.RasterXSize}x{db.RasterYSize}", file=sys.stderr)
        return 2
    ba, bb = da.GetRasterBand(args.band), db.GetRasterBand(args.band)
    w, h = da.RasterXSize, da.RasterYSize
    nd = args.nodata

    valid_both = equal = nd_a_only = nd_b_only = nd_both = 0
    hist_a = np.zeros(256, dtype=np.int64)
    hist_b = np.zeros(256, dtype=np.int64)
    for y0 in range(0, h, args.strip):
        rows = min(args.strip, h - y0)
        a = ba.ReadAsArray(0, y0, w, rows)
        b = bb.ReadAsArray(0, y0, w, rows)
        na, nb = a == nd, b == nd
        both = ~na & ~nb
        valid_both += int(both.sum())
        equal += int((both & (a == b)).sum())
        nd_a_only += int((na & ~nb).sum())
        nd_b_only += int((nb & ~na).sum())
        nd_both += int((na & nb).sum())
        hist_a += np.bincount(a.ravel().astype(np.int64), minlength=256)[:256]
        hist_b += np.bincount(b.ravel().astype(np.int64), minlength=256)[:256]

    if valid_both == 0:
        print(f"agreement n/a: no pixel is valid in both maps ({w}x{h})")
        return 1
    frac = equal / valid_both
    print(f"agreement {frac:.8f} ({100 * frac:.4f}%) over {valid_both} pixels valid in both")
    print(f"differing pixels: {valid_both - equal}")
    print(f"nodata ({nd}): {nd_both} in both, {nd_a_only} only in A, {nd_b_only} only in B")

    def hist(hh):
        return " ".join(f"{k}:{int(hh[k])}" for k in range(256) if hh[k] and k != nd) or "(none)"

    print(f"classes A ({args.a}): {hist(hist_a)}")
    print(f"classes B ({args.b}): {hist(hist_b)}")
    ok = frac >= args.min
    print(f"check agreement >= {100 * args.min:g}%: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
