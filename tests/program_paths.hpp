#pragma once
// Where the built programs and the reference models are, for tests that run them as a user does.
// The paths come from CMake (tests/CMakeLists.txt).
#include <string>

namespace luojia::test {

inline const std::string kIndex = LUOJIA_INDEX_EXE;
inline const std::string kSegment = LUOJIA_SEGMENT_EXE;
inline const std::string kClassify = LUOJIA_CLASSIFY_EXE;
inline const std::string kChange = LUOJIA_CHANGE_EXE;
inline const std::string kAssess = LUOJIA_ASSESS_EXE;
inline const std::string kInfo = LUOJIA_INFO_EXE;
inline const std::string kMerge = LUOJIA_MERGE_EXE;
inline const std::string kBatch = LUOJIA_BATCH_EXE;
inline const std::string kRegress = LUOJIA_REGRESS_EXE;
inline const std::string kSuperres = LUOJIA_SUPERRES_EXE;
inline const std::string kDetect = LUOJIA_DETECT_EXE;
inline const std::string kStereo = LUOJIA_STEREO_EXE;
inline const std::string kSegmentMany = LUOJIA_SEGMENT_MANY_EXE;
inline const std::string kUnet = LUOJIA_TEST_DATA "/nn/unet_op17.onnx";
inline const std::string kTasks = LUOJIA_TEST_DATA "/tasks/";
inline const std::string kClassifier = LUOJIA_TEST_DATA "/nn/resnet_classifier_op17.onnx";

}  // namespace luojia::test
