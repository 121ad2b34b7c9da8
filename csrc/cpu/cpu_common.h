// ISA-independent parts of the CPU kernels: the packed model, the objective view,
// per-thread scratch layout and the choice of instruction set at run time.
//
// Layout. Every matrix is stored in column panels (pack_panels: panel_width<T>() columns,
// K contiguous rows each, zero-filled past the last column), 128-byte aligned, so the
// micro-kernel (panel_gemm.h) streams whole vectors from it without tails. Activation rows
// and biases are padded to a multiple of kPadBytes (128 bytes: 32 floats, 16 doubles).
//   W[l]  [in_l,  out_l] panels  forward:  out = in @ W[l] + b[l]
//   WT[l] [out_l, in_l ] panels  backward: d_in = d_out @ W[l]^T
//   S, ST [D, D] panels          skip matrix and its transpose (absent for the identity skip)
#pragma once
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "checks.h"
#include "outputs.h"
#include "philox.h"

namespace wmk {
namespace cpu {

constexpr int kPadBytes = 128;
constexpr int kMaxTile = 32;  // candidate rows per tile (register sub-tiles: WMK_TILE rows)
constexpr int kMaxMats = kMaxHiddenLayers + 1;

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
template <typename T>
constexpr int64_t pad_elems() { return kPadBytes / static_cast<int64_t>(sizeof(T)); }

using wmk::new_output;

template <typename T>
struct Net {
  int L = 0;                  // hidden layers (1..4); matrices 0..L, L is the output layer
  int D = 0, A = 0, K0 = 0;   // K0 = D + A
  int act = 0;
  int in[kMaxMats] = {}, out[kMaxMats] = {};
  int inp[kMaxMats] = {}, outp[kMaxMats] = {};
  const T* W[kMaxMats] = {};
  const T* WT[kMaxMats] = {};
  const T* b[kMaxMats] = {};
  bool skip_matrix = false;
  const T* S = nullptr;
  const T* ST = nullptr;
  int Dp = 0;  // row stride of state buffers (row_stride<T>(D))
  int Hp = 0;  // row stride of activation buffers: the widest hidden layer or the input x
  int nr = 0;  // panel width of W, WT, S, ST (panel_width<T>() when packed)
};

template <typename T>
struct Obj {
  const T* w = nullptr;   // [T] step weights
  const T* q = nullptr;   // [D] state weights
  T lam = 0;              // action penalty
  const T* lo = nullptr;  // [A]
  const T* hi = nullptr;  // [A]
};

// Row stride of a scratch buffer `width` wide: whole 128-byte lines plus one 64-byte line, so
// that the rows of a tile (a power-of-two width, say) do not all map onto the same few cache
// sets; rows stay 64-byte aligned.
template <typename T>
int64_t row_stride(int64_t width) {
  return round_up(width, pad_elems<T>()) + 64 / static_cast<int64_t>(sizeof(T));
}

// The panel width (columns) of packed matrices: two vectors of the instruction set that
// WMK_ISA_CALL runs for T (defined with the dispatch below; panel_gemm.h's kPanel).
template <typename T>
int panel_width();

// Elements of a [K, N] matrix packed in panels of nr columns, rounded to whole 128-byte lines.
template <typename T>
int64_t panels_elems(int K, int N, int nr) {
  return round_up(int64_t(K) * round_up(N, nr), pad_elems<T>());
}

// Packs M [K, N] (element (k, j) at m[k * row_stride + j * col_stride]) into column panels of
// nr columns: panel p holds columns [p nr, p nr + w) as K contiguous rows of w elements at
// dst + p K nr, where w = nr, or nr / 2 for a last panel with at most nr / 2 columns left;
// columns past N are zero. dst holds panels_elems(K, N, nr) elements. Panels are packed in
// parallel; a transposed source (col_stride > row_stride) is read in blocks of 64 rows of the
// panel, so that its w source rows and the panel block stay in L1.
template <typename T>
void pack_panels(const T* m, int64_t row_stride, int64_t col_stride, int K, int N, int nr, T* dst) {
  const int64_t panels = (N + nr - 1) / nr;
  const int64_t grain = std::max<int64_t>(1, 32768 / (int64_t(K) * nr));  // small matrices: one thread
  at::parallel_for(0, panels, grain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int j0 = static_cast<int>(p * nr);
      const int w = N - j0 > nr / 2 ? nr : nr / 2, cols = std::min(w, N - j0);
      T* panel = dst + int64_t(j0) * K;
      if (col_stride <= row_stride) {
        for (int k = 0; k < K; ++k) {
          T* row = panel + int64_t(k) * w;
          const T* src = m + k * row_stride + j0 * col_stride;
          for (int j = 0; j < cols; ++j) row[j] = src[j * col_stride];
          std::fill(row + cols, row + w, T(0));
        }
      } else {
        for (int k0 = 0; k0 < K; k0 += 64) {
          const int k1 = std::min(K, k0 + 64);
          for (int j = 0; j < w; ++j) {
            const T* src = m + (j0 + j) * col_stride;
            for (int k = k0; k < k1; ++k) panel[int64_t(k) * w + j] = j < cols ? src[k * row_stride] : T(0);
          }
        }
      }
    }
  });
  const int64_t used = (panels - 1) * nr * K + int64_t(N - (panels - 1) * nr > nr / 2 ? nr : nr / 2) * K;
  std::fill(dst + used, dst + panels_elems<T>(K, N, nr), T(0));
}

// Memory for the packed model: one 64-byte aligned buffer per calling thread and element type,
// kept from call to call and grown when too small, so that calls do not pay again for fresh
// pages (for a 3 MB model the page faults cost more than the packing). Valid until the next
// call of this thread.
template <typename T>
T* packing_buffer(int64_t elems) {
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<T[], Free> buffer;
  thread_local int64_t capacity = 0;
  if (capacity < elems) {
    buffer.reset();
    const size_t bytes = static_cast<size_t>(round_up(elems * int64_t(sizeof(T)), 64));
    buffer.reset(static_cast<T*>(std::aligned_alloc(64, bytes)));
    TORCH_CHECK(buffer != nullptr, "wmkernels: cannot allocate ", bytes, " bytes for the packed model");
    capacity = elems;
  }
  return buffer.get();
}

// Packs the model (weights in panels, once per call) into this thread's packing_buffer. The
// transposes (WT, ST) only `with_transposes` (the backward pass needs them).
template <typename T>
Net<T> pack_model(at::TensorList weights, at::TensorList biases, const at::Tensor& skip, int64_t activation,
                  bool with_transposes) {
  Net<T> net;
  const int n = static_cast<int>(weights.size());
  const int64_t pe = pad_elems<T>();
  const int nr = panel_width<T>();
  net.nr = nr;
  net.L = n - 1;
  net.D = static_cast<int>(weights[n - 1].size(1));
  net.K0 = static_cast<int>(weights[0].size(0));
  net.A = net.K0 - net.D;
  net.act = static_cast<int>(activation);
  net.Dp = static_cast<int>(row_stride<T>(net.D));
  net.skip_matrix = skip.numel() > 0;
  int64_t total = 0, hp = round_up(net.K0, pe);
  for (int l = 0; l < n; ++l) {
    net.in[l] = static_cast<int>(weights[l].size(0));
    net.out[l] = static_cast<int>(weights[l].size(1));
    net.inp[l] = static_cast<int>(round_up(net.in[l], pe));
    net.outp[l] = static_cast<int>(round_up(net.out[l], pe));
    total += panels_elems<T>(net.in[l], net.out[l], nr) + net.outp[l];
    if (with_transposes) total += panels_elems<T>(net.out[l], net.in[l], nr);
    if (l < n - 1) hp = std::max<int64_t>(hp, net.outp[l]);
  }
  net.Hp = static_cast<int>(row_stride<T>(hp));
  if (net.skip_matrix) total += (with_transposes ? 2 : 1) * panels_elems<T>(net.D, net.D, nr);
  // Every section below is a multiple of 128 bytes and written in full (pack_panels
  // zero-fills, biases are zero-padded).
  T* cursor = packing_buffer<T>(total);
  auto take = [&cursor](int64_t count) { T* p = cursor; cursor += count; return p; };
  for (int l = 0; l < n; ++l) {
    const T* w = weights[l].data_ptr<T>();
    const int in = net.in[l], out = net.out[l];
    T* W = take(panels_elems<T>(in, out, nr));
    T* B = take(net.outp[l]);
    pack_panels<T>(w, out, 1, in, out, nr, W);
    std::memcpy(B, biases[l].data_ptr<T>(), sizeof(T) * out);
    std::fill(B + out, B + net.outp[l], T(0));
    net.W[l] = W;
    net.b[l] = B;
    if (with_transposes) {
      T* WT = take(panels_elems<T>(out, in, nr));
      pack_panels<T>(w, 1, out, out, in, nr, WT);
      net.WT[l] = WT;
    }
  }
  if (net.skip_matrix) {
    const T* s = skip.data_ptr<T>();
    T* S = take(panels_elems<T>(net.D, net.D, nr));
    pack_panels<T>(s, net.D, 1, net.D, net.D, nr, S);
    net.S = S;
    if (with_transposes) {
      T* ST = take(panels_elems<T>(net.D, net.D, nr));
      pack_panels<T>(s, 1, net.D, net.D, net.D, nr, ST);
      net.ST = ST;
    }
  }
  return net;
}

template <typename T>
Obj<T> make_obj(const at::Tensor& step_weights, const at::Tensor& state_weights, double lam,
                const at::Tensor& lo, const at::Tensor& hi) {
  Obj<T> o;
  o.w = step_weights.data_ptr<T>();
  o.q = state_weights.data_ptr<T>();
  o.lam = static_cast<T>(lam);
  o.lo = lo.defined() && lo.numel() ? lo.data_ptr<T>() : nullptr;
  o.hi = hi.defined() && hi.numel() ? hi.data_ptr<T>() : nullptr;
  return o;
}

// Per-tile scratch: every buffer a multiple of 64 bytes, carved from one allocation.
template <typename T>
struct TileScratch {
  T* x = nullptr;      // [C, Hp] activation ping
  T* y = nullptr;      // [C, Hp] activation pong
  T* deriv = nullptr;  // [T, L, C, Hp] act'(pre) saved by the forward pass
  T* zs = nullptr;     // [T+1, C, Dp] states
  T* goal = nullptr;   // [C, Dp]
  T* dz = nullptr;     // [C, Dp]
  T* dz2 = nullptr;    // [C, Dp]
  T* act = nullptr;    // [C, T, A] actions of the tile's candidates
  T* m = nullptr;      // [C, T, A] Adam moments
  T* v = nullptr;
  T* grad = nullptr;   // [C, T, A]
  double cost[kMaxTile];

  // Elements for tiles of up to C (<= kMaxTile) rows.
  static int64_t elems(const Net<T>& net, int64_t T_, int64_t C) {
    const int64_t pe = pad_elems<T>();
    const int64_t ta = round_up(C * T_ * net.A, pe);
    return 2 * C * net.Hp + T_ * net.L * C * net.Hp + (T_ + 4) * C * net.Dp + 4 * ta;
  }
  void carve(T* base, const Net<T>& net, int64_t T_, int64_t C) {
    const int64_t pe = pad_elems<T>();
    const int64_t ta = round_up(C * T_ * net.A, pe);
    T* c = base;
    auto take = [&c](int64_t n) { T* p = c; c += n; return p; };
    x = take(C * net.Hp);
    y = take(C * net.Hp);
    deriv = take(T_ * net.L * C * net.Hp);
    zs = take((T_ + 1) * C * net.Dp);
    goal = take(C * net.Dp);
    dz = take(C * net.Dp);
    dz2 = take(C * net.Dp);
    act = take(ta);
    m = take(ta);
    v = take(ta);
    grad = take(ta);
  }
};

// One scratch per thread, allocated once per call (never inside the loops), for tiles of at
// most min(kMaxTile, rows) rows: `rows` is the most rows one call of the kernel rolls out
// together (a tile never holds more), so a small batch of wide layers gets a small scratch.
template <typename T>
struct ScratchPool {
  at::Tensor storage;
  std::vector<TileScratch<T>> tiles;
  ScratchPool(const Net<T>& net, int64_t T_, int64_t rows, const at::TensorOptions& opts) {
    const int threads = std::max(1, at::get_num_threads());
    const int64_t C = std::max<int64_t>(1, std::min<int64_t>(kMaxTile, rows));
    const int64_t per = round_up(TileScratch<T>::elems(net, T_, C), pad_elems<T>());
    storage = new_output({per * threads + pad_elems<T>()}, opts);
    tiles.resize(threads);
    for (int t = 0; t < threads; ++t) tiles[t].carve(storage.data_ptr<T>() + per * t, net, T_, C);
  }
  TileScratch<T>& mine() {
    const int t = at::get_thread_num();
    return tiles[t < static_cast<int>(tiles.size()) ? t : 0];
  }
};

// ---- instruction set chosen at run time --------------------------------------------
enum class Isa { kBase = 0, kAvx2 = 1, kAvx512 = 2 };

inline Isa detect_isa() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(WMK_CPU_BASE_ONLY)
  Isa best = Isa::kBase;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::kAvx2;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
    best = Isa::kAvx512;
  // WMK_CPU_ISA=base|avx2|avx512 lowers (never raises) the choice: for tests and comparisons.
  if (const char* env = std::getenv("WMK_CPU_ISA")) {
    const std::string want(env);
    Isa asked = want == "base" ? Isa::kBase : want == "avx2" ? Isa::kAvx2 : Isa::kAvx512;
    if (static_cast<int>(asked) < static_cast<int>(best)) best = asked;
  }
  return best;
#else
  return Isa::kBase;
#endif
}

inline const char* isa_name(Isa isa) {
  return isa == Isa::kAvx512 ? "avx512" : isa == Isa::kAvx2 ? "avx2" : "base";
}

// WMK_ISA_CALL(T, fn, args...) calls wmk::cpu::<isa>::fn<T>(args...) for the instruction set
// chosen at run time. float32 has AVX-512, AVX2 and baseline code; float64 (the exact path
// that tests and references use) runs the baseline code only, which halves the build time.
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(WMK_CPU_BASE_ONLY)
#define WMK_CPU_MULTI_ISA 1
#define WMK_ISA_CALL(T, name, ...)                                                      \
  do {                                                                                 \
    if constexpr (std::is_same<T, float>::value) {                                     \
      switch (::wmk::cpu::detect_isa()) {                                              \
        case ::wmk::cpu::Isa::kAvx512: ::wmk::cpu::avx512::name<T>(__VA_ARGS__); break; \
        case ::wmk::cpu::Isa::kAvx2: ::wmk::cpu::avx2::name<T>(__VA_ARGS__); break;     \
        default: ::wmk::cpu::base::name<T>(__VA_ARGS__); break;                        \
      }                                                                                \
    } else {                                                                           \
      ::wmk::cpu::base::name<T>(__VA_ARGS__);                                          \
    }                                                                                  \
  } while (0)
#else
#define WMK_CPU_MULTI_ISA 0
#define WMK_ISA_CALL(T, name, ...) ::wmk::cpu::base::name<T>(__VA_ARGS__)
#endif

// The instruction set that float32 kernels use here.
inline Isa float_isa() {
#if WMK_CPU_MULTI_ISA
  return detect_isa();
#else
  return Isa::kBase;
#endif
}

// Two vectors of the instruction set that WMK_ISA_CALL picks for T (foreach_isa.h's
// WMK_VEC_BYTES: 64, 32, 16 bytes): the panel width of packed matrices.
template <typename T>
int panel_width() {
  const int vec_bytes = std::is_same<T, float>::value
                            ? (float_isa() == Isa::kAvx512 ? 64 : float_isa() == Isa::kAvx2 ? 32 : 16)
                            : 16;
  return 2 * vec_bytes / static_cast<int>(sizeof(T));
}

}  // namespace cpu
}  // namespace wmk
