#pragma once
// GDAL's progress callback type, which every long call takes (return 0 to cancel).

namespace luojia {

// The signature of GDALProgressFunc, so GDAL's own (GDALTermProgress, GDALScaledProgress) plug in.
// Return 0 to cancel.
using ProgressFunc = int (*)(double complete, const char* message, void* user_data);

}  // namespace luojia
