#!/usr/bin/python3
"""A DSM against the surface it was made of (tools/make_rpc_pair.py): completeness and height errors.

    /usr/bin/python3 bench/score_dsm.py DSM.tif TRUTH.tif LEFT.tif RIGHT.tif

The truth is sampled at each DSM cell centre (nearest). Cells near a height step of more than 2 m
in the truth (5x5 cells: walls, where a cell mixes roof and ground) are left out of the error
figures, and completeness counts only cells both views see (their centre, at its true height,
projected by GDAL's RPC transformer inside both images, 8 px from the border).
"""
import sys, numpy as np, rasterio
from rasterio.warp import reproject, Resampling
dsm = rasterio.open(sys.argv[1]); truth = rasterio.open(sys.argv[2])
h = dsm.read(1); valid = h != -9999
t = np.full(h.shape, np.nan, np.float32)
reproject(truth.read(1), t, src_transform=truth.transform, src_crs=truth.crs, dst_transform=dsm.transform, dst_crs=dsm.crs, resampling=Resampling.nearest, dst_nodata=np.nan)
# Also the truth's local relief, to leave out walls (cells within 1 m of a height step > 2 m)
tt = np.nan_to_num(t, nan=-1e9)
from scipy.ndimage import maximum_filter, minimum_filter
relief = maximum_filter(tt, 5) - minimum_filter(tt, 5)
inside = np.isfinite(t)
flat = inside & (relief < 2.0)
dh = np.abs(h - t)
both = valid & flat
print(f"cells in truth {inside.sum()}, completeness (flat, off walls) {both.sum()/flat.sum():.4f}, all {(valid&inside).sum()/inside.sum():.4f}")
print(f"median |dh| {np.median(dh[both]):.3f} m, mean {dh[both].mean():.3f} m, NMAD {1.4826*np.median(np.abs((h-t)[both]-np.median((h-t)[both]))):.3f} m, bias {np.median((h-t)[both]):.3f} m, >2 m {(dh[both]>2).mean()*100:.2f}%")
print(f"everywhere: median |dh| {np.median(dh[valid&inside]):.3f} m, RMSE {np.sqrt((dh[valid&inside]**2).mean()):.3f} m")
# Cells both views see (their centre, at the true height, inside both images).
from osgeo import gdal
from pyproj import Transformer
rows, cols = np.nonzero(inside)
xs, ys = rasterio.transform.xy(dsm.transform, rows, cols)
lon, lat = Transformer.from_crs(dsm.crs, "EPSG:4326", always_xy=True).transform(np.asarray(xs), np.asarray(ys))
seen = np.ones(rows.size, bool)
for view in sys.argv[3:5]:
    ds = gdal.Open(view)
    tr = gdal.Transformer(ds, None, ["METHOD=RPC"])
    out, ok = tr.TransformPoints(1, np.stack([lon, lat, t[rows, cols]], axis=1))
    out = np.asarray(out)
    seen &= np.asarray(ok, bool) & (out[:, 0] >= 8) & (out[:, 0] < ds.RasterXSize - 8) & (out[:, 1] >= 8) & (out[:, 1] < ds.RasterYSize - 8)
both_seen = np.zeros(h.shape, bool); both_seen[rows[seen], cols[seen]] = True
fs = flat & both_seen
print(f"seen by both views: {both_seen.sum()} cells; completeness there (off walls) {(valid & fs).sum()/fs.sum():.4f}, all {(valid & both_seen).sum()/both_seen.sum():.4f}")
