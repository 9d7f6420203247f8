#pragma once
// Moved to <luojia/engine/engine.hpp>; this path stays for code written before the move.
#include <luojia/engine/engine.hpp>
