// The table of built-in operators: explicit, so a static library keeps every one of them.
#include <luojia/nn/layer_registry.hpp>

#include "nn/layers/attention.hpp"
#include "nn/layers/conv.hpp"
#include "nn/layers/depth_space.hpp"
#include "nn/layers/einsum.hpp"
#include "nn/layers/elementwise.hpp"
#include "nn/layers/grid_sample.hpp"
#include "nn/layers/index_ops.hpp"
#include "nn/layers/nn_ops.hpp"
#include "nn/layers/normalization.hpp"
#include "nn/layers/pointwise_depthwise.hpp"
#include "nn/layers/pooling.hpp"
#include "nn/layers/resize.hpp"
#include "nn/layers/shape_ops.hpp"
#include "nn/layers/volume.hpp"

namespace luojia::nn {

void register_builtin_layers(LayerRegistry& r) {
  using namespace layers;
  r.add("", "Conv", make_conv);  // 2-D or 3-D by the kernel's
  r.add("", "ConvTranspose", make_conv_transpose);
  r.add<BatchNorm>("", "BatchNormalization");
  for (const char* op : {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Abs", "Neg",
                         "Exp", "Log", "Sqrt", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
                         "Floor", "Ceil", "Round", "Sign", "Reciprocal", "Elu", "Selu", "Celu", "ThresholdedRelu", "Softplus",
                         "Softsign", "Mish", "Gelu", "Not", "IsNaN", "IsInf", "Identity", "Dropout"})
    r.add<Unary>("", op);
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu", "Mod", "Equal", "Less", "Greater", "LessOrEqual",
                         "GreaterOrEqual", "And", "Or", "Xor"})
    r.add<Binary>("", op);
  r.add<Where>("", "Where");
  r.add("", "MaxPool", make_pool);
  r.add("", "AveragePool", make_pool);
  r.add<GlobalPool>("", "GlobalAveragePool");
  r.add<GlobalPool>("", "GlobalMaxPool");
  for (const char* op : {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"}) r.add<Reduce>("", op);
  r.add<Resize>("", "Resize");
  r.add<Resize>("", "Upsample");
  r.add<Pad>("", "Pad");
  r.add<Softmax>("", "Softmax");
  r.add<Softmax>("", "LogSoftmax");
  r.add<ArgMax>("", "ArgMax");
  r.add<ArgMax>("", "ArgMin");
  r.add<Gemm>("", "Gemm");
  r.add<MatMul>("", "MatMul");
  r.add<ShapeOf>("", "Shape");
  r.add<Size>("", "Size");
  r.add<Gather>("", "Gather");
  r.add<Unsqueeze>("", "Unsqueeze");
  r.add<Squeeze>("", "Squeeze");
  r.add<Concat>("", "Concat");
  r.add<Slice>("", "Slice");
  r.add<Cast>("", "Cast");
  r.add<Reshape>("", "Reshape");
  r.add<Flatten>("", "Flatten");
  r.add<ConstantOfShape>("", "ConstantOfShape");
  r.add<Expand>("", "Expand");
  r.add<Range>("", "Range");
  r.add<Transpose>("", "Transpose");
  r.add<Split>("", "Split");
  r.add<DepthToSpace>("", "DepthToSpace");
  r.add<SpaceToDepth>("", "SpaceToDepth");
  r.add<LayerNorm>("", "LayerNormalization");
  r.add<InstanceNorm>("", "InstanceNormalization");
  r.add<GroupNorm>("", "GroupNormalization");
  r.add<GatherElements>("", "GatherElements");
  r.add<GatherND>("", "GatherND");
  r.add<ScatterND>("", "ScatterND");
  r.add<TopK>("", "TopK");
  r.add<CumSum>("", "CumSum");
  r.add<Trilu>("", "Trilu");
  r.add<Tile>("", "Tile");
  r.add<Einsum>("", "Einsum");
  r.add<GridSample>("", "GridSample");
  r.add<Attention>("luojia", "Attention");  // what load-time fusion makes of exported attention
  r.add<PointwiseDepthwise>("luojia", "PointwiseDepthwise");  // an expansion and the depthwise layer after it
}

}  // namespace luojia::nn
