#pragma once
// luojia-regress and luojia-superres: one program body, two tasks.
namespace luojia::cli {

class Distributed;

enum class PredictTask { Regression, SuperResolution };

int predict_program(int argc, char** argv, Distributed& distributed, PredictTask task);

}  // namespace luojia::cli
