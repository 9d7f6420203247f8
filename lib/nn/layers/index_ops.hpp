#pragma once
// Operators that address elements by computed indices or positions: GatherElements, GatherND,
// ScatterND, TopK, CumSum, Trilu, Tile. Float32 and int64 data alike (bools are int64 here).
#include "nn/layers/common.hpp"

namespace luojia::nn::layers {

#define LUOJIA_INDEX_LAYER(Name)                                                              \
  class Name : public Layer {                                                                 \
  public:                                                                                     \
    using Layer::Layer;                                                                       \
    std::vector<ValueInfo> infer(const std::vector<ValueInfo>& inputs) const override;         \
    Footprint footprint() const override;                                                     \
                                                                                              \
  protected:                                                                                  \
    void do_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) const override; \
  };

LUOJIA_INDEX_LAYER(GatherElements)
LUOJIA_INDEX_LAYER(GatherND)
LUOJIA_INDEX_LAYER(ScatterND)
LUOJIA_INDEX_LAYER(TopK)
LUOJIA_INDEX_LAYER(CumSum)
LUOJIA_INDEX_LAYER(Trilu)
LUOJIA_INDEX_LAYER(Tile)

#undef LUOJIA_INDEX_LAYER

}  // namespace luojia::nn::layers
