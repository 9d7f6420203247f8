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

// view 0: the left view, 1: the right one. size: the image's width and height.
RpcMetadata synthetic_rpc(int view, int size = 2000);

// Adds RPC metadata to an existing raster (GDAL's RPC domain, written to the GeoTIFF).
void attach_rpc(const std::string& path, const RpcMetadata& rpc);

}  // namespace luojia::test
