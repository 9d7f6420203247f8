#pragma once
// Everything public, for programs that would rather include one header. The folders follow the
// data: core types, raster I/O, tiling, the streaming engine, the network engine, products.
#include <luojia/data_type.hpp>
#include <luojia/error.hpp>
#include <luojia/image.hpp>
#include <luojia/progress.hpp>
#include <luojia/version.hpp>

#include <luojia/io/grid_match.hpp>
#include <luojia/io/ortho.hpp>
#include <luojia/io/raster.hpp>
#include <luojia/io/raster_info.hpp>
#include <luojia/io/raster_layout.hpp>
#include <luojia/io/raster_writer.hpp>
#include <luojia/io/rpc_model.hpp>
#include <luojia/io/vector_format.hpp>

#include <luojia/tiling/shard_layout.hpp>
#include <luojia/tiling/tile_grid.hpp>
#include <luojia/tiling/window.hpp>

#include <luojia/engine/engine.hpp>

#include <luojia/nn/attributes.hpp>
#include <luojia/nn/layer.hpp>
#include <luojia/nn/layer_registry.hpp>
#include <luojia/nn/model.hpp>
#include <luojia/nn/model_metadata.hpp>
#include <luojia/nn/tensor.hpp>

#include <luojia/products/assessment.hpp>
#include <luojia/products/change.hpp>
#include <luojia/products/classification.hpp>
#include <luojia/products/detection.hpp>
#include <luojia/products/index_catalogue.hpp>
#include <luojia/products/merge.hpp>
#include <luojia/products/model_task.hpp>
#include <luojia/products/polygonize.hpp>
#include <luojia/products/prediction.hpp>
#include <luojia/products/segmentation.hpp>
#include <luojia/products/spectral_index.hpp>
#include <luojia/products/stereo.hpp>
#include <luojia/products/surface_assessment.hpp>
