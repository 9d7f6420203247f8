#pragma once
// Moved to <luojia/products/assessment.hpp>; this path stays for code written before the move.
#include <luojia/products/assessment.hpp>
