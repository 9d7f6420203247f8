#pragma once
// Moved to <luojia/io/ortho.hpp>; this path stays for code written before the move.
#include <luojia/io/ortho.hpp>
