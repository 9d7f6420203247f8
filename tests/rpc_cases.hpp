#pragma once
// Synthetic RPC00B models of two satellite views of one place (Wuhan), as test fixtures: each an
// oblique view (0.4 pixels of parallax per metre of height, opposite ways along the rows) of a
// 0.5 m image, the second rotated by 3 degrees and scaled by 2%, with small curved terms and a
// non-constant denominator so that nothing about them is affine.
#include <string>
#include <utility>
#include <vector>

namespace luojia::test {

using RpcMetadata = std::vector<std::pair<std::string, std::string>>;

// view 0: the left view, 1: the right one. size: the image's width and height, gsd its pixel
// on the ground in metres.
RpcMetadata synthetic_rpc(int view, int size = 2000, double gsd = 0.5);

// Adds RPC metadata to an existing raster (GDAL's RPC domain, written to the GeoTIFF).
void attach_rpc(const std::string& path, const RpcMetadata& rpc);

// A pair of views of a surface of known heights (a smooth terrain 25-35 m above the ellipsoid,
// flat-roofed blocks 5-25 m high), textured, rendered through synthetic_rpc with GDAL's RPC
// transformer meeting each line of sight with the surface (RPC_DEM): independent of luojia.
struct RpcScene {
  std::string left, right;  // UInt16 views, RPCs in the GeoTIFF, nodata 0 where the texture ends
  std::string truth;        // the surface, Float32 on a 0.5 m grid in UTM 50N (EPSG:32650)
};
RpcScene make_rpc_scene(const std::string& folder, int size, int seed = 0);

}  // namespace luojia::test
