#!/usr/bin/python3
"""A satellite stereo pair with RPCs over a surface of known heights, from the bundled SpaceNet image.

The bundled SpaceNet 4 Atlanta image (0.5 m) is the ortho texture of a scene placed in Wuhan
(UTM zone 50N, EPSG:32650); its building footprints are extruded to 4-30 m (seeded) over a smooth
terrain 20-45 m above the ellipsoid: that surface is the truth (dsm_truth.tif). Two views look at
it through synthetic RPC00B models (the same construction as tests/rpc_cases.cpp: oblique views of
0.5 m pixels with 0.4 px of parallax per metre, opposite along the rows, so B/H 0.4; the second
rotated 3 degrees and scaled 2%, with curved terms and varying denominators). Each view's pixel
shows the texture where its line of sight meets the surface (GDAL's RPC transformer with RPC_DEM,
an implementation independent of luojia's).

Usage: make_rpc_pair.py OUT_FOLDER [--size N] [--seed S] [--mosaic K]
Writes left.tif, right.tif (UInt16, RPCs in the GeoTIFF, no geotransform), dsm_truth.tif.
"""
import argparse
import json
import math
import os

import numpy as np
import rasterio
from osgeo import gdal
from rasterio import features
from rasterio.transform import Affine

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
LON0, LAT0 = 114.35, 30.53


def rpc(view, size):
    half = size / 2.0
    gsd = 0.5
    lon_scale = half * gsd / (111320.0 * math.cos(math.radians(LAT0)))
    lat_scale = half * gsd / 110900.0
    height_offset, height_scale = 100.0, 100.0
    along = half
    parallax = (1.0 if view == 0 else -1.0) * 0.4 * height_scale
    angle = 0.0 if view == 0 else math.radians(3.0)
    zoom = 1.0 if view == 0 else 1.02
    c, s = math.cos(angle) * zoom, math.sin(angle) * zoom
    samp_num = [0.0] * 20
    line_num = [0.0] * 20
    samp_num[1], samp_num[2], samp_num[3] = c, s, parallax / along
    line_num[1], line_num[2], line_num[3] = s, -c, (0.002 if view == 0 else -0.003)
    samp_num[7] = 0.0012 * (view + 1)
    samp_num[8] = -0.0008
    line_num[4] = 0.0009
    line_num[9] = 0.0004 * (-1 if view else 1)
    samp_den = [1, 0.0006, -0.0004, 0.0002, 0, 0, 0, 0.0001] + [0] * 12
    line_den = [1, -0.0003, 0.0005, -0.0001, 0, 0, 0, 0, 0.0002] + [0] * 11
    j = lambda v: " ".join(repr(float(x)) for x in v)
    return {"LINE_OFF": repr(half - 0.5), "SAMP_OFF": repr(half - 0.5), "LAT_OFF": repr(LAT0), "LONG_OFF": repr(LON0),
            "HEIGHT_OFF": repr(height_offset), "LINE_SCALE": repr(along), "SAMP_SCALE": repr(along), "LAT_SCALE": repr(lat_scale),
            "LONG_SCALE": repr(lon_scale), "HEIGHT_SCALE": repr(height_scale), "LINE_NUM_COEFF": j(line_num),
            "LINE_DEN_COEFF": j(line_den), "SAMP_NUM_COEFF": j(samp_num), "SAMP_DEN_COEFF": j(samp_den)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--size", type=int, default=900, help="image width and height (default 900)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mosaic", type=int, default=1,
                   help="the scene mirrored K x K times (texture, buildings, terrain on the whole): a large scene with data "
                        "everywhere, for memory and time at scale (default 1: the bundled 900 x 900 scene)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with rasterio.open(os.path.join(DATA, "spacenet4_atlanta.tif")) as src:
        texture = src.read(1).astype(np.float32)
        atlanta = src.transform
    with open(os.path.join(DATA, "spacenet4_buildings.geojson")) as f:
        buildings = json.load(f)["features"]
    rng = np.random.default_rng(args.seed)
    heights = rng.uniform(4.0, 30.0, len(buildings))
    roofs = features.rasterize([(b["geometry"], float(z)) for b, z in zip(buildings, heights)], out_shape=texture.shape,
                               transform=atlanta, fill=0.0, dtype="float32")
    if args.mosaic > 1:
        # Mirrored copies side by side, so the texture and the roofs run on across the seams.
        def mirrored(a):
            row = np.concatenate([a if k % 2 == 0 else a[:, ::-1] for k in range(args.mosaic)], axis=1)
            return np.concatenate([row if k % 2 == 0 else row[::-1, :] for k in range(args.mosaic)], axis=0)
        texture, roofs = mirrored(texture), mirrored(roofs)
    rows, cols = texture.shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    terrain = 32.0 + 6.0 * np.sin(xx / 170.0 + 0.4) + 5.0 * np.cos(yy / 140.0)
    surface = (terrain + roofs).astype(np.float32)
    # The texture's grid placed around the scene centre in UTM 50N.
    from pyproj import Transformer
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)
    cx, cy = to_utm.transform(LON0, LAT0)
    ground = Affine(0.5, 0, cx - cols * 0.25, 0, -0.5, cy + rows * 0.25)
    profile = dict(driver="GTiff", width=cols, height=rows, count=1, crs="EPSG:32650", transform=ground, tiled=True,
                   blockxsize=256, blockysize=256)
    truth_path = os.path.join(args.out, "dsm_truth.tif")
    with rasterio.open(truth_path, "w", dtype="float32", **profile) as dst:
        dst.write(surface, 1)
    texture_path = os.path.join(args.out, "texture.tif")
    with rasterio.open(texture_path, "w", dtype="float32", nodata=0, **profile) as dst:
        dst.write(texture, 1)
    texture_ds = gdal.Open(texture_path)
    for view, name in ((0, "left.tif"), (1, "right.tif")):
        path = os.path.join(args.out, name)
        ds = gdal.GetDriverByName("GTiff").Create(path, args.size, args.size, 1, gdal.GDT_UInt16, ["TILED=YES", "COMPRESS=DEFLATE"])
        ds.SetMetadata(rpc(view, args.size), "RPC")
        ds.GetRasterBand(1).SetNoDataValue(0)
        # Every pixel centre's line of sight met with the surface (GDAL: RPC_DEM), then the
        # texture there, bilinear.
        t = gdal.Transformer(ds, None, ["METHOD=RPC", "RPC_DEM=" + truth_path, "RPC_DEMINTERPOLATION=bilinear"])
        jj, ii = np.mgrid[0:args.size, 0:args.size]
        pts = np.stack([ii.ravel() + 0.5, jj.ravel() + 0.5, np.zeros(ii.size)], axis=1)
        out, ok = t.TransformPoints(0, pts)
        out = np.asarray(out)
        ok = np.asarray(ok, bool)
        lon, lat = out[:, 0], out[:, 1]
        x, y = to_utm.transform(lon, lat)
        gc = (np.asarray(x) - ground.c) / 0.5 - 0.5
        gr = (ground.f - np.asarray(y)) / 0.5 - 0.5
        c0, r0 = np.floor(gc).astype(np.int64), np.floor(gr).astype(np.int64)
        inside = ok & (c0 >= 0) & (r0 >= 0) & (c0 < cols - 1) & (r0 < rows - 1)
        fc, fr = gc - c0, gr - r0
        c0c, r0c = np.clip(c0, 0, cols - 2), np.clip(r0, 0, rows - 2)
        value = (texture[r0c, c0c] * (1 - fc) * (1 - fr) + texture[r0c, c0c + 1] * fc * (1 - fr) + texture[r0c + 1, c0c] * (1 - fc) * fr +
                 texture[r0c + 1, c0c + 1] * fc * fr)
        image = np.where(inside, np.clip(np.rint(value), 1, 65535), 0).astype(np.uint16).reshape(args.size, args.size)
        ds.GetRasterBand(1).WriteArray(image)
        ds = None
    os.remove(texture_path)
    print(json.dumps({"size": args.size, "truth": truth_path, "height_min": float(surface.min()), "height_max": float(surface.max())}))


if __name__ == "__main__":
    main()
