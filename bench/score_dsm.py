#!/usr/bin/python3
"""A DSM against the surface it was made of (tools/make_rpc_pair.py): completeness and height errors.

    /usr/bin/python3 bench/score_dsm.py DSM.tif TRUTH.tif LEFT.tif RIGHT.tif

The truth is sampled at each DSM cell centre (nearest). Cells near a height step of more than 2 m
in the truth (5x5 cells: walls, where a cell mixes roof and ground) are left out of the error
figures, and completeness counts only cells both views see (their centre, at its true height,
projected by GDAL's RPC transformer inside both images, 8 px from the border), and then only those
no building hides from either view (each cell's lines of sight walked up through the truth).
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
# Occlusions: a cell is hidden from a view when the surface rises above its line of sight. The
# line of sight's horizontal drift per metre of height comes from GDAL's RPC transformer at the
# scene's centre (the views are near-parallel over a scene); each cell's line is walked upwards
# in 0.25 m steps to the highest truth, looking the truth up (nearest) under it.
centre_row, centre_col = h.shape[0] // 2, h.shape[1] // 2
cx, cy = rasterio.transform.xy(dsm.transform, centre_row, centre_col)
to_geo = Transformer.from_crs(dsm.crs, "EPSG:4326", always_xy=True)
to_map = Transformer.from_crs("EPSG:4326", dsm.crs, always_xy=True)
clon, clat = to_geo.transform(cx, cy)
z0 = float(np.nanmedian(t))
unoccluded = np.ones(h.shape, bool)
top = float(np.nanmax(t))
inv = ~dsm.transform
for view in sys.argv[3:5]:
    ds = gdal.Open(view)
    tr = gdal.Transformer(ds, None, ["METHOD=RPC"])
    points, _ = tr.TransformPoints(1, [(clon, clat, z0)])
    pc, pr = points[0][0], points[0][1]
    # The ground point this pixel sees 10 m higher: the line of sight's drift.
    back = gdal.Transformer(ds, None, ["METHOD=RPC", "RPC_HEIGHT=%f" % (z0 + 10.0)])
    points, _ = back.TransformPoints(0, [(pc, pr, 0.0)])
    gx, gy = to_map.transform(points[0][0], points[0][1])
    sx, sy = (gx - cx) / 10.0, (gy - cy) / 10.0
    hidden = np.zeros(h.shape, bool)
    rr, cc = np.nonzero(inside)
    x0, y0 = np.asarray(rasterio.transform.xy(dsm.transform, rr, cc))
    base = t[rr, cc]
    for dz in np.arange(0.25, top - np.nanmin(t) + 0.25, 0.25):
        z = base + dz
        live = z <= top
        if not live.any():
            break
        col, row = inv * (x0 + dz * sx, y0 + dz * sy)
        col, row = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
        ok = live & (col >= 0) & (row >= 0) & (col < h.shape[1]) & (row < h.shape[0])
        above = np.zeros(rr.size, bool)
        above[ok] = t[row[ok], col[ok]] > z[ok] + 0.1
        hidden[rr[above], cc[above]] = True
    unoccluded &= ~hidden
visible = fs & unoccluded
print(f"seen by both views and not occluded: {visible.sum()} cells (off walls); completeness there {(valid & visible).sum()/visible.sum():.4f}")
