#pragma once
// Moved to <luojia/tiling/shard_layout.hpp>; this path stays for code written before the move.
#include <luojia/tiling/shard_layout.hpp>
