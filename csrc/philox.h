// Counter-based normal draws shared by the CPU and CUDA kernels (docs/random.md).
//
// Reproduces wmkernels/_random.py bit for bit:
//   key     = (seed, stream)
//   counter = (i, n, p, step)      i = t * A + a, n candidate, p problem, step iteration
//   Philox4x32-10, then Box-Muller on the first two words:
//   u1 = max(unit(x0), 1e-7), u2 = unit(x1)                                     (float32)
//   z = float32(sqrt(-2 log u1) cos(2 pi u2))                                    (float64)
//   unit(x) = |int32(x)| (-x - 1 for negative x) * 2^-31, as Triton's tl.rand.
// The cosine is cos_2pi below: the same float64 operations as _random.cos_2pi, each rounded
// on its own (never fused into a multiply-add).
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

// x * y + z rounded twice, as torch computes it: the product is hidden from the optimiser on
// the host (compilers may otherwise contract it into an FMA) and rounded explicitly on the GPU.
WMK_HD double mul_add_rn(double x, double y, double z) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(__dmul_rn(x, y), z);
#else
  double product = x * y;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+x"(product));
#elif defined(__GNUC__) && defined(__aarch64__)
  __asm__("" : "+w"(product));
#else
  volatile double opaque = product;
  product = opaque;
#endif
  return product + z;
#endif
}

constexpr double kTwoPi = 0x1.921fb54442d18p+2;  // 2 pi rounded to float64

// cos(2 pi u) for u in [0, 1) (a float32 value): u = k/4 + r with k = floor(4u + 1/2), |r| <= 1/8
// (exact), theta = r * 2pi, then the Taylor polynomials of cos and sin by Horner with the
// coefficients (-1)^j / (2j)! and (-1)^j / (2j+1)!, j = 8 .. 0, rounded to float64
// (_random.COS_COEFFS, SIN_COEFFS), then the quadrant k mod 4. No library call: no
// argument-reduction slow path (local memory on the GPU).
WMK_HD double cos_2pi(double u) {
  const double k = floor(u * 4.0 + 0.5);
  const double theta = (u - 0.25 * k) * kTwoPi;
  const double t2 = theta * theta;
  double c = 0x1.ae7f3e733b81fp-45, s = 0x1.952c77030ad4ap-49;
  c = mul_add_rn(t2, c, -0x1.93974a8c07c9dp-37);
  s = mul_add_rn(t2, s, -0x1.ae7f3e733b81fp-41);
  c = mul_add_rn(t2, c, 0x1.1eed8eff8d898p-29);
  s = mul_add_rn(t2, s, 0x1.6124613a86d09p-33);
  c = mul_add_rn(t2, c, -0x1.27e4fb7789f5cp-22);
  s = mul_add_rn(t2, s, -0x1.ae64567f544e4p-26);
  c = mul_add_rn(t2, c, 0x1.a01a01a01a01ap-16);
  s = mul_add_rn(t2, s, 0x1.71de3a556c734p-19);
  c = mul_add_rn(t2, c, -0x1.6c16c16c16c17p-10);
  s = mul_add_rn(t2, s, -0x1.a01a01a01a01ap-13);
  c = mul_add_rn(t2, c, 0x1.5555555555555p-5);
  s = mul_add_rn(t2, s, 0x1.1111111111111p-7);
  c = mul_add_rn(t2, c, -0x1.0p-1);
  s = mul_add_rn(t2, s, -0x1.5555555555555p-3);
  c = mul_add_rn(t2, c, 1.0);
  s = mul_add_rn(t2, s, 1.0);
  s = theta * s;
  switch (static_cast<int>(k) & 3) {
    case 0: return c;
    case 1: return -s;
    case 2: return -c;
    default: return s;
  }
}

// Box-Muller on the first two Philox words: float32 uniforms, float64 transform, one rounding.
WMK_HD float box_muller(uint32_t x0, uint32_t x1) {
  float u1 = uint32_to_unit(x0);
  u1 = u1 < 1.0e-7f ? 1.0e-7f : u1;
  const double u2 = uint32_to_unit(x1);
  return static_cast<float>(sqrt(-2.0 * log(static_cast<double>(u1))) * cos_2pi(u2));
}

// One standard normal float32 draw keyed by (seed, stream, step, p, n, i).
WMK_HD float philox_normal(uint32_t seed, uint32_t stream, uint32_t step, uint32_t p, uint32_t n, uint32_t i) {
  const PhiloxOut r = philox4x32(i, n, p, step, seed, stream);
  return box_muller(r.x0, r.x1);
}

}  // namespace wmk
