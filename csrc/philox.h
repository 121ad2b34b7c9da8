// Counter-based normal draws shared by the CPU and CUDA kernels.
//
// Reproduces wmkernels/_random.py bit for bit on the uint32 words:
//   key     = (seed, stream)
//   counter = (i, n, p, step)      i = t * A + a, n candidate, p problem, step iteration
//   Philox4x32-10, then Box-Muller on the first two words, in float32:
//   u1 = max(unit(x0), 1e-7), u2 = unit(x1), z = sqrt(-2 log u1) cos(2 pi u2)
//   unit(x) = |int32(x)| (-x - 1 for negative x) * 2^-31, as Triton's tl.rand.
// Plain C++ (no ATen): compiled by the host compiler and by nvcc alike.
#pragma once
#include <stdint.h>
#include <math.h>

#if defined(__CUDACC__)
#define WMK_HD __host__ __device__ __forceinline__
#else
#define WMK_HD inline
#endif

namespace wmk {

constexpr uint32_t kPhiloxRoundA = 0xD2511F53u;
constexpr uint32_t kPhiloxRoundB = 0xCD9E8D57u;
constexpr uint32_t kPhiloxKeyA = 0x9E3779B9u;
constexpr uint32_t kPhiloxKeyB = 0xBB67AE85u;
constexpr int kPhiloxRounds = 10;

enum Stream : uint32_t { kStreamInit = 0, kStreamNoise = 1, kStreamSample = 2 };

struct PhiloxOut {
  uint32_t x0, x1, x2, x3;
};

WMK_HD void mulhilo32(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
#if defined(__CUDA_ARCH__)
  lo = a * b;
  hi = __umulhi(a, b);
#else
  const uint64_t product = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  hi = static_cast<uint32_t>(product >> 32);
  lo = static_cast<uint32_t>(product);
#endif
}

// Philox4x32 with `kPhiloxRounds` rounds on counter (c0, c1, c2, c3) and key (k0, k1).
WMK_HD PhiloxOut philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int r = 0; r < kPhiloxRounds; ++r) {
    uint32_t hi_b, lo_b, hi_a, lo_a;
    mulhilo32(c2, kPhiloxRoundB, hi_b, lo_b);
    mulhilo32(c0, kPhiloxRoundA, hi_a, lo_a);
    const uint32_t n0 = hi_b ^ c1 ^ k0;
    const uint32_t n2 = hi_a ^ c3 ^ k1;
    c0 = n0;
    c1 = lo_b;
    c2 = n2;
    c3 = lo_a;
    k0 += kPhiloxKeyA;
    k1 += kPhiloxKeyB;
  }
  return PhiloxOut{c0, c1, c2, c3};
}

// uint32 word -> [0, 1) as float32, the way tl.rand and _random._uint32_to_unit do it.
WMK_HD float uint32_to_unit(uint32_t x) {
  int32_t s = static_cast<int32_t>(x);
  if (s < 0) s = ~s;  // -s - 1 without overflow at INT32_MIN
  return static_cast<float>(s) * 4.6566127342e-10f;
}

// Box-Muller on the first two Philox words, in float32.
WMK_HD float box_muller(uint32_t x0, uint32_t x1) {
  float u1 = uint32_to_unit(x0);
  u1 = u1 < 1.0e-7f ? 1.0e-7f : u1;
  const float u2 = uint32_to_unit(x1);
#if defined(__CUDA_ARCH__)
  // cospif(2 u2) == cos(2 pi u2) without cosf's slow-path argument reduction (local memory).
  return sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
#else
  return sqrtf(-2.0f * logf(u1)) * cosf(u2 * 6.28318530717958647692f);
#endif
}

// One standard normal float32 draw keyed by (seed, stream, step, p, n, i).
WMK_HD float philox_normal(uint32_t seed, uint32_t stream, uint32_t step, uint32_t p, uint32_t n, uint32_t i) {
  const PhiloxOut r = philox4x32(i, n, p, step, seed, stream);
  return box_muller(r.x0, r.x1);
}

}  // namespace wmk
