// The activations of wmkernels.activations and their derivatives, element by element, for
// the CPU kernels (float and double) and the CUDA kernels (float): one definition for both.
// act_<name>(x, d) returns act(x) and writes act'(x) to *d unless d is null.
//
// No include guard on purpose: the CPU kernels include this once per instruction set, inside
// that instruction set's namespace (cpu/foreach_isa.h), so each copy compiles with its own
// target options; the CUDA kernels include it once inside namespace wmk::cuda. Include
// <cmath> (or cuda_runtime.h) and activations.h at global scope first.

#ifdef __CUDACC__
#define WMK_ACT_FN __host__ __device__ __forceinline__
#else
#define WMK_ACT_FN inline
#endif

WMK_ACT_FN float act_exp(float x) { return expf(x); }
WMK_ACT_FN double act_exp(double x) { return exp(x); }
WMK_ACT_FN float act_expm1(float x) { return expm1f(x); }
WMK_ACT_FN double act_expm1(double x) { return expm1(x); }
WMK_ACT_FN float act_tanh(float x) { return tanhf(x); }
WMK_ACT_FN double act_tanh(double x) { return tanh(x); }

// relu(x) = max(x, 0)
template <typename T>
WMK_ACT_FN T act_relu(T x, T* d) {
  if (d) *d = x > T(0) ? T(1) : T(0);
  return x > T(0) ? x : T(0);
}

// silu(x) = x s(x), s = 1 / (1 + e^-x);  silu' = s (1 + x (1 - s))
template <typename T>
WMK_ACT_FN T act_silu(T x, T* d) {
  const T s = T(1) / (T(1) + act_exp(-x));
  if (d) *d = s * (T(1) + x * (T(1) - s));
  return x * s;
}

// gelu(x) = x/2 (1 + tanh u), u = c (x + k x^3), c = sqrt(2/pi), k = 0.044715
// gelu' = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) c (1 + 3k x^2)
template <typename T>
WMK_ACT_FN T act_gelu(T x, T* d) {
  const double c = 0.79788456080286535588, k = 0.044715;
  const T th = act_tanh(T(c) * (x + T(k) * x * x * x));
  if (d) *d = T(0.5) * (T(1) + th) + T(0.5) * x * (T(1) - th * th) * T(c) * (T(1) + T(3 * k) * x * x);
  return T(0.5) * x * (T(1) + th);
}

// tanh(x);  tanh' = 1 - tanh^2
template <typename T>
WMK_ACT_FN T act_tanh_fn(T x, T* d) {
  const T th = act_tanh(x);
  if (d) *d = T(1) - th * th;
  return th;
}

// elu(x) = x if x > 0 else e^x - 1;  elu' = 1 if x > 0 else e^x
template <typename T>
WMK_ACT_FN T act_elu(T x, T* d) {
  if (d) *d = x > T(0) ? T(1) : act_exp(x);
  return x > T(0) ? x : act_expm1(x);
}

// act(x) by id (wmk::Activation), writing act'(x) to *d unless d is null.
template <typename T>
WMK_ACT_FN T activation(int id, T x, T* d) {
  switch (id) {
    case wmk::kRelu: return act_relu(x, d);
    case wmk::kSilu: return act_silu(x, d);
    case wmk::kGelu: return act_gelu(x, d);
    case wmk::kTanh: return act_tanh_fn(x, d);
    default: return act_elu(x, d);
  }
}

#undef WMK_ACT_FN
