#pragma once

namespace luojia {

// The signature of GDALProgressFunc, so GDAL's own (GDALTermProgress, GDALScaledProgress) plug in.
// Return 0 to cancel.
using ProgressFunc = int (*)(double complete, const char* message, void* user_data);

}  // namespace luojia
