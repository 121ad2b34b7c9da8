// The projected Adam / SGD update of one element, shared by adam_step and the GBP plan
// (wmkernels/ops/adam/naive.py):
//   m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
//   a <- a - (lr * m / bc1) / (sqrt(v / bc2) + eps);   a <- clamp(a + noise, lo, hi)
// with bc1 = 1 - b1^k, bc2 = 1 - b2^k. SGD: a <- clamp(a - lr g + noise, lo, hi).
#pragma once
#include <cmath>

#if defined(__CUDACC__)
#define WMK_ADAM_HD __host__ __device__ __forceinline__
#else
#define WMK_ADAM_HD inline
#endif

namespace wmk {

template <typename T>
struct AdamConsts {
  T lr, b1, b2, one_minus_b1, one_minus_b2, bc1, bc2, eps;
};

template <typename T>
inline AdamConsts<T> adam_consts(double lr, double b1, double b2, double eps, long long step) {
  AdamConsts<T> c;
  c.lr = T(lr);
  c.b1 = T(b1);
  c.b2 = T(b2);
  c.one_minus_b1 = T(1.0 - b1);
  c.one_minus_b2 = T(1.0 - b2);
  c.bc1 = T(1.0 - std::pow(b1, double(step)));
  c.bc2 = T(1.0 - std::pow(b2, double(step)));
  c.eps = T(eps);
  return c;
}

template <typename T>
WMK_ADAM_HD T clamp_bounds(T a, T lo, T hi) {
  a = a < lo ? lo : a;
  return a > hi ? hi : a;
}

template <typename T>
WMK_ADAM_HD T adam_update(T a, T g, T& m, T& v, const AdamConsts<T>& c) {
#if !defined(__CUDA_ARCH__)
  using std::sqrt;
#endif
  m = m * c.b1 + c.one_minus_b1 * g;
  v = v * c.b2 + c.one_minus_b2 * g * g;
  const T m_hat = m / c.bc1;
  const T v_hat = v / c.bc2;
  return a - (c.lr * m_hat) / (sqrt(v_hat) + c.eps);
}

}  // namespace wmk
