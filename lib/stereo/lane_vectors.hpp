#pragma once
// Costs as vectors of 64 bytes: 64 lanes of 8 bits or 32 of 16. GCC's vector extensions, which
// the compiler lowers to the target's instructions (one AVX-512 register, two AVX2 ones, four SSE2
// ones), so the matcher is written once and vectorised for every ISA the library is built for.
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#if defined(__SSE4_1__)
#include <immintrin.h>
#endif

// These helpers are inline and internal: passing 64-byte vectors by value in a build without
// AVX-512 (the portable one) changes no interface anyone links against.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace luojia::stereo {

using u8x64 = std::uint8_t __attribute__((vector_size(64)));
using u8x32 = std::uint8_t __attribute__((vector_size(32)));
using u8x16 = std::uint8_t __attribute__((vector_size(16)));
using u16x32 = std::uint16_t __attribute__((vector_size(64)));
using u16x16 = std::uint16_t __attribute__((vector_size(32)));
using u16x8 = std::uint16_t __attribute__((vector_size(16)));

// The vector of a lane type.
template <typename Lane>
struct LaneVector;
template <>
struct LaneVector<std::uint8_t> {
  using type = u8x64;
  static constexpr int lanes = 64;
};
template <>
struct LaneVector<std::uint16_t> {
  using type = u16x32;
  static constexpr int lanes = 32;
};
constexpr int kLanes = 32;  // 16-bit lanes, as the aggregated sums are kept

template <typename V, typename T>
inline V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline u16x32 load(const std::uint16_t* p) { return load<u16x32>(p); }
template <typename T, typename V>
inline void store(T* p, V v) {
  std::memcpy(p, &v, sizeof v);
}
template <typename V, typename T>
inline V splat(T value) {
  using Element = std::remove_cvref_t<decltype(std::declval<V>()[0])>;
  return V{} + static_cast<Element>(value);
}
inline u16x32 splat(std::uint16_t value) { return u16x32{} + value; }
template <typename V>
inline V vmin(V a, V b) {
  return a < b ? a : b;
}
template <typename V>
inline V vmax(V a, V b) {
  return a > b ? a : b;
}

// The smallest lane.
inline std::uint16_t hmin(u16x8 f) {
#if defined(__SSE4_1__)
  __m128i m;
  std::memcpy(&m, &f, sizeof m);
  return static_cast<std::uint16_t>(_mm_cvtsi128_si32(_mm_minpos_epu16(m)) & 0xFFFF);
#else
  std::uint16_t best = f[0];
  for (int i = 1; i < 8; ++i) best = f[i] < best ? f[i] : best;
  return best;
#endif
}
inline std::uint16_t hmin(u16x32 v) {
  const u16x16 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const u16x16 b = __builtin_shufflevector(v, v, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
  const u16x16 c = vmin(a, b);
  const u16x8 d = __builtin_shufflevector(c, c, 0, 1, 2, 3, 4, 5, 6, 7);
  const u16x8 e = __builtin_shufflevector(c, c, 8, 9, 10, 11, 12, 13, 14, 15);
  return hmin(vmin(d, e));
}
inline std::uint8_t hmin(u8x64 v) {
  const u8x32 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                          23, 24, 25, 26, 27, 28, 29, 30, 31);
  const u8x32 b = __builtin_shufflevector(v, v, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,
                                          52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63);
  const u8x32 c = vmin(a, b);
  const u8x16 d = __builtin_shufflevector(c, c, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const u8x16 e = __builtin_shufflevector(c, c, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
  const u8x16 f = vmin(d, e);
  // Each 16-bit lane's smaller byte, zero-extended: eight 16-bit lanes.
  u16x8 pairs;
  std::memcpy(&pairs, &f, sizeof pairs);
  return static_cast<std::uint8_t>(hmin(vmin<u16x8>(pairs & 0xFF, pairs >> 8)));
}

// Bit i set where lane i of a 16-bit comparison result (all ones or zero) is set.
template <typename Comparison>
inline std::uint32_t lane_mask(Comparison result) {
  u16x32 comparison;
  std::memcpy(&comparison, &result, sizeof comparison);
#if defined(__AVX512BW__)
  __m512i m;
  std::memcpy(&m, &comparison, sizeof m);
  return static_cast<std::uint32_t>(_mm512_movepi16_mask(m));
#elif defined(__AVX2__)
  __m256i lo, hi;
  std::memcpy(&lo, &comparison, sizeof lo);
  std::memcpy(&hi, reinterpret_cast<const char*>(&comparison) + 32, sizeof hi);
  // Bytes of each 16-bit lane agree, so the packed bytes' signs are the lanes' bits.
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi16(lo, hi), 0xD8);
  return static_cast<std::uint32_t>(_mm256_movemask_epi8(packed));
#else
  std::uint32_t bits = 0;
  for (int i = 0; i < 32; ++i) bits |= static_cast<std::uint32_t>(comparison[i] != 0) << i;
  return bits;
#endif
}

}  // namespace luojia::stereo

#pragma GCC diagnostic pop
