#!/usr/bin/python3
"""OpenCV's StereoSGBM (Debian python3-opencv) on a rectified pair, as a Python user runs it.

    /usr/bin/python3 bench/opencv_stereo.py LEFT RIGHT OUT.tif MODE MIN_D NUM_D THREADS

MODE: hh (8 paths, full), sgbm (5 paths, one pass), 3way, hh4 (4 paths). Reads both views
whole (rasterio), stretches them to 8 bits (StereoSGBM takes CV_8U; 0.5-99.5 percentiles of
both), cv2.setNumThreads(THREADS), blockSize 5, P1 = 8*5*5, P2 = 32*5*5 (OpenCV's documented
choice), disp12MaxDiff 1, uniquenessRatio 10, speckleWindowSize 100, speckleRange 2 (in 1/16
pixel units x16: one pixel), and writes the disparity (Float32, -9999 where OpenCV gives none)
with LEFT's georeferencing. Prints one line: "opencv MODE compute_s TOTAL_s peak_rss_mb".
"""
import resource
import sys
import time

import cv2
import numpy as np
import rasterio

MODES = {"hh": cv2.STEREO_SGBM_MODE_HH, "sgbm": cv2.STEREO_SGBM_MODE_SGBM, "3way": cv2.STEREO_SGBM_MODE_SGBM_3WAY,
         "hh4": cv2.STEREO_SGBM_MODE_HH4}


def main():
    left_path, right_path, out, mode, min_d, num_d, threads = sys.argv[1:8]
    start = time.perf_counter()
    with rasterio.open(left_path) as src:
        left = src.read(1).astype(np.float32)
        profile = src.profile
    with rasterio.open(right_path) as src:
        right = src.read(1).astype(np.float32)
    lo, hi = np.percentile(np.concatenate([left.ravel(), right.ravel()]), [0.5, 99.5])
    to8 = lambda a: np.clip((a - lo) / max(hi - lo, 1e-6) * 255.0, 0, 255).astype(np.uint8)
    l8, r8 = to8(left), to8(right)
    cv2.setNumThreads(int(threads))
    block = 5
    matcher = cv2.StereoSGBM_create(minDisparity=int(min_d), numDisparities=int(num_d), blockSize=block, P1=8 * block * block,
                                    P2=32 * block * block, disp12MaxDiff=1, uniquenessRatio=10, speckleWindowSize=100,
                                    speckleRange=2, mode=MODES[mode])
    t0 = time.perf_counter()
    disparity = matcher.compute(l8, r8)
    compute = time.perf_counter() - t0
    d = disparity.astype(np.float32) / 16.0
    d[disparity < (int(min_d) * 16)] = -9999.0
    profile.update(dtype="float32", nodata=-9999.0, count=1, compress="deflate", tiled=True)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(d, 1)
    total = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"opencv {mode} {compute:.3f} {total:.3f} {peak:.0f}")


if __name__ == "__main__":
    main()
