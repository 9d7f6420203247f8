#pragma once
// Symbols marked LUOJIA_API are the library's public ABI; everything else is hidden.
#if defined(LUOJIA_SHARED) && defined(__GNUC__)
#define LUOJIA_API __attribute__((visibility("default")))
#else
#define LUOJIA_API
#endif
