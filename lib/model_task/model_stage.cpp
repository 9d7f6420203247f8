#include "model_task/model_stage.hpp"

namespace luojia::detail {

ModelStage::ModelStage(Raster& r, const nn::Model& m, const ModelTaskOptions& o)
    : raster(r), model(m), info(r.info()), options(o), at_model{m.path(), {}, {}, {}},
      input(resolve_model_input(m, r.info(), o.bands, o.scale, o.mean, o.std)), sessions_(m) {}

const TileGrid& ModelStage::grid() const {
  if (!grid_) throw Error("internal: the model task's grid is asked for before its head planned it");
  return *grid_;
}

void ModelStage::set_grid(const TileGrid& whole) { grid_.emplace(whole.shard(options.stream.shard)); }

ModelTiling ModelStage::dense_tiling(bool blend, bool native_size_allowed) const {
  return plan_model_tiling(model, input, info, options.tile, options.halo, blend, native_size_allowed);
}

TileGrid ModelStage::dense_grid() const { return model_tile_grid(tiling, info); }

nn::Tensor ModelStage::network_input(const InputTile& in) const {
  nn::Tensor x({1, input.channels(), in.tile.read.height, in.tile.read.width});
  detail::network_input(in, input, info.width, info.height, x);
  return x;
}

std::vector<nn::Tensor> ModelStage::run(const nn::Tensor& x) const {
  const auto session = sessions_.borrow();
  return session->run(input.split(x));
}

std::size_t ModelStage::activation_bytes() const { return detail::activation_bytes(model, input, grid(), tiling); }

StreamOptions ModelStage::stream() const {
  StreamOptions so = options.stream;
  so.read.edge = EdgeMode::Reflect;
  so.read.apply_scale = false;
  return so;
}

}  // namespace luojia::detail
