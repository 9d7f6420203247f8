#pragma once
// Moved to <luojia/io/vector_format.hpp>; this path stays for code written before the move.
#include <luojia/io/vector_format.hpp>
