// The CPU kernels' inner loops, compiled once per instruction set (see foreach_isa.h):
// included inside namespace wmk::cpu::WMK_ISA with WMK_VEC_BYTES and WMK_TILE defined.
// No include guard on purpose.
//
// A tile is up to kMaxTile candidate rows rolled through the model together: the per-step
// products become matrix products [C, K] x [K, N] over the packed weight panels (panel_gemm.h),
// so every weight vector loaded feeds a register tile of rows and every panel block brought
// into L1 feeds the whole tile. Nothing here allocates.
#include "cpu/panel_gemm.h"

namespace {

// Cuts rows [begin, end) into the fewest tiles of at most kMaxTile rows, of balanced sizes,
// and calls f(first_row, rows) for each.
template <typename F>
inline void for_each_tile(int64_t begin, int64_t end, F&& f) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int64_t tiles = (n + kMaxTile - 1) / kMaxTile;
  for (int64_t i = 0; i < tiles; ++i) {
    const int64_t r0 = begin + n * i / tiles, r1 = begin + n * (i + 1) / tiles;
    f(r0, static_cast<int>(r1 - r0));
  }
}

#include "activation_math.h"

// h = act(pre) in place on [rows, ld] rows (first n columns); deriv = act'(pre) if given.
template <typename T, typename Act>
inline void activate_rows(int rows, T* __restrict h, T* __restrict deriv, int ld, int n, Act act) {
  for (int c = 0; c < rows; ++c) {
    T* r = h + c * ld;
    T* d = deriv ? deriv + c * ld : nullptr;
    for (int j = 0; j < n; ++j) r[j] = act(r[j], d ? d + j : nullptr);
  }
}

template <typename T>
inline void activate(int rows, int act, T* __restrict h, T* __restrict deriv, int ld, int n) {
  switch (act) {
    case wmk::kRelu: activate_rows(rows, h, deriv, ld, n, [](T x, T* d) { return act_relu(x, d); }); break;
    case wmk::kSilu: activate_rows(rows, h, deriv, ld, n, [](T x, T* d) { return act_silu(x, d); }); break;
    case wmk::kGelu: activate_rows(rows, h, deriv, ld, n, [](T x, T* d) { return act_gelu(x, d); }); break;
    case wmk::kTanh: activate_rows(rows, h, deriv, ld, n, [](T x, T* d) { return act_tanh_fn(x, d); }); break;
    default: activate_rows(rows, h, deriv, ld, n, [](T x, T* d) { return act_elu(x, d); }); break;
  }
}

// Fills the tile's z0, goal and (if `actions` is given) action rows for rows
// row0..row0+rows-1 of a [P * N] row space (row r belongs to problem r / N).
template <typename T>
inline void tile_load(int rows, const Net<T>& net, TileScratch<T>& sc, const T* z0, const T* goal,
                      const T* actions, int64_t row0, int64_t N, int T_) {
  const int D = net.D, Dp = net.Dp, TA = T_ * net.A;
  for (int c = 0; c < rows; ++c) {
    const int64_t r = row0 + c;
    const int64_t p = r / N;
    std::memcpy(sc.zs + c * Dp, z0 + p * D, sizeof(T) * D);
    std::memcpy(sc.goal + c * Dp, goal + p * D, sizeof(T) * D);
    if (actions) std::memcpy(sc.act + c * TA, actions + r * TA, sizeof(T) * TA);
  }
}

// sum_d q[d] (z[d] - g[d])^2 in double, in eight interleaved partial sums (no serial chain).
template <typename T>
inline double weighted_sq_dist(const T* __restrict z, const T* __restrict g, const T* __restrict q, int D) {
  double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int d = 0;
  for (; d + 8 <= D; d += 8)
    for (int u = 0; u < 8; ++u) {
      const double e = double(z[d + u]) - double(g[d + u]);
      part[u] += double(q[d + u]) * e * e;
    }
  for (; d < D; ++d) {
    const double e = double(z[d]) - double(g[d]);
    part[d & 7] += double(q[d]) * e * e;
  }
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

// Whether every row of the tile starts from the same state (the candidates of one problem).
template <typename T>
inline bool same_start(int rows, const T* zs, int Dp, int D) {
  for (int c = 1; c < rows; ++c)
    if (std::memcmp(zs, zs + c * Dp, sizeof(T) * D) != 0) return false;
  return true;
}

// The first layer's pre-activations at step 0 when all rows share z0:
//   out[c] = (b + a[c] @ W[D:]) + (z0 @ W[:D]),  z0 @ W[:D] computed once (into x's row 0, after
// the rows' products have read x) instead of once per row.
template <typename T>
inline void first_layer_shared_start(int rows, const Net<T>& net, TileScratch<T>& sc, T* out) {
  const int D = net.D, K = net.in[0], N = net.out[0], Hp = net.Hp;
  panel_gemm_range<T>(rows, sc.x, Hp, D, K, K, net.W[0], net.b[0], N, out, Hp, false);
  T* shared = sc.x;
  panel_gemm_range<T>(1, sc.zs, net.Dp, 0, D, K, net.W[0], nullptr, N, shared, Hp, false);
  for (int c = 0; c < rows; ++c)
    for (int j = 0; j < N; ++j) out[c * Hp + j] += shared[j];
}

// Rolls the tile through T_ steps: reads sc.zs[0], sc.goal, sc.act [C, T, A]; writes
// sc.zs[1..T], sc.cost (goal terms + action penalty, accumulated in double) and, when
// store_deriv, act'(pre) of every hidden layer and step into sc.deriv.
template <typename T>
inline void tile_forward(int rows, const Net<T>& net, const Obj<T>& obj, TileScratch<T>& sc, int T_,
                         bool store_deriv) {
  const int C = rows;
  const int D = net.D, A = net.A, Dp = net.Dp, Hp = net.Hp, L = net.L;
  for (int c = 0; c < C; ++c) {
    double pen = 0;
    const T* a = sc.act + c * T_ * A;
    for (int i = 0; i < T_ * A; ++i) pen += double(a[i]) * double(a[i]);
    sc.cost[c] = double(obj.lam) * pen;
  }
  const bool shared_start = C > 1 && A > 0 && same_start<T>(C, sc.zs, Dp, D);
  for (int t = 0; t < T_; ++t) {
    const T* z = sc.zs + t * C * Dp;
    T* zn = sc.zs + (t + 1) * C * Dp;
    for (int c = 0; c < C; ++c) {
      std::memcpy(sc.x + c * Hp, z + c * Dp, sizeof(T) * D);
      std::memcpy(sc.x + c * Hp + D, sc.act + (c * T_ + t) * A, sizeof(T) * A);
    }
    T* in = sc.x;
    T* out = sc.y;
    for (int l = 0; l < L; ++l) {
      if (l == 0 && t == 0 && shared_start)
        first_layer_shared_start<T>(C, net, sc, out);
      else
        panel_gemm<T>(C, in, Hp, net.in[l], net.W[l], net.b[l], net.out[l], out, Hp, false);
      activate<T>(C, net.act, out, store_deriv ? sc.deriv + (t * L + l) * C * Hp : nullptr, Hp, net.out[l]);
      std::swap(in, out);
    }
    panel_gemm<T>(C, in, Hp, net.in[L], net.W[L], net.b[L], D, zn, Dp, false);
    if (net.skip_matrix) {
      panel_gemm<T>(C, z, Dp, D, net.S, nullptr, D, zn, Dp, true);
    } else {
      for (int c = 0; c < C; ++c)
        for (int d = 0; d < D; ++d) zn[c * Dp + d] += z[c * Dp + d];
    }
    const double wt = double(obj.w[t]);
    for (int c = 0; c < C; ++c) sc.cost[c] += wt * weighted_sq_dist<T>(zn + c * Dp, sc.goal + c * Dp, obj.q, D);
  }
}

// Backward through time after tile_forward(store_deriv = true): sc.grad [C, T, A] = dC/da.
template <typename T>
inline void tile_backward(int rows, const Net<T>& net, const Obj<T>& obj, TileScratch<T>& sc, int T_) {
  const int C = rows;
  const int D = net.D, A = net.A, Dp = net.Dp, Hp = net.Hp, L = net.L;
  T* dz = sc.dz;
  T* dz2 = sc.dz2;
  std::fill(dz, dz + C * Dp, T(0));
  const T two_lam = T(2) * obj.lam;
  for (int t = T_ - 1; t >= 0; --t) {
    const T* zn = sc.zs + (t + 1) * C * Dp;
    const T two_w = T(2) * obj.w[t];
    for (int c = 0; c < C; ++c)
      for (int d = 0; d < D; ++d)
        dz[c * Dp + d] += two_w * obj.q[d] * (zn[c * Dp + d] - sc.goal[c * Dp + d]);
    T* dh = sc.x;
    T* dn = sc.y;
    panel_gemm<T>(C, dz, Dp, D, net.WT[L], nullptr, net.in[L], dh, Hp, false);
    for (int l = L - 1; l >= 0; --l) {
      const T* dv = sc.deriv + (t * L + l) * C * Hp;
      const int n = net.out[l];
      for (int c = 0; c < C; ++c) {
        T* r = dh + c * Hp;
        const T* s = dv + c * Hp;
        for (int j = 0; j < n; ++j) r[j] *= s[j];
      }
      panel_gemm<T>(C, dh, Hp, n, net.WT[l], nullptr, net.in[l], dn, Hp, false);
      std::swap(dh, dn);
    }
    // dh now holds dx = [dz part, da part] for each row.
    for (int c = 0; c < C; ++c) {
      T* g = sc.grad + (c * T_ + t) * A;
      const T* a = sc.act + (c * T_ + t) * A;
      const T* dx = dh + c * Hp + D;
      for (int j = 0; j < A; ++j) g[j] = dx[j] + two_lam * a[j];
    }
    if (t == 0) break;
    if (net.skip_matrix) {
      panel_gemm<T>(C, dz, Dp, D, net.ST, nullptr, D, dz2, Dp, false);
      std::swap(dz, dz2);
    }
    for (int c = 0; c < C; ++c)
      for (int d = 0; d < D; ++d) dz[c * Dp + d] += dh[c * Hp + d];
  }
}

}  // namespace
