// CPU gbp_plan: a whole gradient-based plan in one call.
//
// Candidates are independent until the final choice, so each tile of WMK_TILE rows
// (r = p * N + n) runs all `iters` iterations on its own thread with its actions, Adam
// moments, activations and states in that thread's scratch (L1/L2 resident):
//   k = 0..iters-1:  cost, grad = rollout_grad(actions);  history_row[k] = cost
//                    actions = clamp(adam(actions, grad) + noise * normal(seed, 1, k, p, n, i), lo, hi)
//   final cost = rollout(actions)
// then per problem: the candidate with the lowest final cost (first on ties) and
// history[p, k] = min over its candidates.
#ifndef WMK_ISA
#include "adam_update.h"
#include "cpu/cpu_common.h"
#include "ops.h"

#define WMK_TARGET_INCLUDE "gbp_cpu.cpp"
namespace wmk {
namespace cpu {
template <typename T>
struct GbpSettings {
  int iters;
  bool adam;
  double lr, beta1, beta2, eps;
  T noise;
  uint32_t seed;
};
#include "cpu/foreach_isa.h"
}  // namespace cpu

Triple gbp_plan_cpu(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& init, WMK_MODEL_ARGS,
                    WMK_OBJ_ARGS, int64_t iters, double lr, int64_t optimizer, double beta1, double beta2,
                    double eps, double noise, int64_t seed) {
  check_float_dtype(init, "init");
  TORCH_CHECK(init.device().is_cpu(), "the cpp backend runs on CPU tensors");
  const at::Tensor skip = skip_tensor(skip_arg, init);
  const auto da = check_model(weights, biases, skip, activation, init);
  check_problem(z0, goal, init, 1, step_weights, state_weights, da.first, da.second, init);
  check_bounds(lo, hi, da.second, init);
  TORCH_CHECK(iters >= 1, "iters must be >= 1");
  TORCH_CHECK(optimizer == 0 || optimizer == 1, "optimizer must be 0 (adam) or 1 (sgd)");
  const uint32_t seed32 = check_seed(seed);
  const int64_t P = init.size(0), N = init.size(1), T_ = init.size(2), A = init.size(3);
  at::Tensor best = cpu::new_output({P, T_, A}, init.options());
  at::Tensor best_cost = cpu::new_output({P}, init.options());
  at::Tensor history = cpu::new_output({P, iters}, init.options());
  if (P == 0) return {best, best_cost, history};
  TORCH_CHECK(N >= 1, "init must hold at least one candidate per problem");
  at::Tensor rows = cpu::new_output({P, N, T_, A}, init.options());
  at::Tensor row_cost = cpu::new_output({P, N}, init.options());
  at::Tensor row_hist = cpu::new_output({P, N, iters}, init.options());
  AT_DISPATCH_FLOATING_TYPES(init.scalar_type(), "wmkernels::gbp_plan", [&] {
    using T = scalar_t;
    const cpu::Net<T> net = cpu::pack_model<T>(weights, biases, skip, activation, true);
    const cpu::Obj<T> obj = cpu::make_obj<T>(step_weights, state_weights, action_penalty, lo, hi);
    cpu::ScratchPool<T> pool(net, T_, P * N, init.options());
    const cpu::GbpSettings<T> s{static_cast<int>(iters), optimizer == 0, lr, beta1, beta2, eps, T(noise), seed32};
    WMK_ISA_CALL(T, gbp_tiles, net, obj, pool, s, z0.data_ptr<T>(), goal.data_ptr<T>(), init.data_ptr<T>(), P, N,
                 static_cast<int>(T_), rows.data_ptr<T>(), row_cost.data_ptr<T>(), row_hist.data_ptr<T>());
    // Per problem: first candidate with the lowest final cost; history = min over candidates.
    const T* rc = row_cost.data_ptr<T>();
    const T* rh = row_hist.data_ptr<T>();
    const T* ra = rows.data_ptr<T>();
    T* bp = best.data_ptr<T>();
    T* bc = best_cost.data_ptr<T>();
    T* hp = history.data_ptr<T>();
    const int64_t TA = T_ * A;
    for (int64_t p = 0; p < P; ++p) {
      int64_t arg = 0;
      for (int64_t n = 1; n < N; ++n)
        if (rc[p * N + n] < rc[p * N + arg]) arg = n;
      bc[p] = rc[p * N + arg];
      std::memcpy(bp + p * TA, ra + (p * N + arg) * TA, sizeof(T) * TA);
      for (int64_t k = 0; k < iters; ++k) {
        T lowest = rh[(p * N) * iters + k];
        for (int64_t n = 1; n < N; ++n) lowest = std::min(lowest, rh[(p * N + n) * iters + k]);
        hp[p * iters + k] = lowest;
      }
    }
  });
  return {best, best_cost, history};
}

}  // namespace wmk

#else  // ---- per instruction set --------------------------------------------------------
namespace WMK_ISA {
#include "cpu/mlp_tile.h"

template <typename T>
void gbp_tiles(const Net<T>& net, const Obj<T>& obj, ScratchPool<T>& pool, const GbpSettings<T>& s, const T* z0,
               const T* goal, const T* init, int64_t P, int64_t N, int T_, T* rows_out, T* row_cost, T* row_hist) {
  check_panels(net);
  const int A = net.A, TA = T_ * A;
  at::parallel_for(0, P * N, 1, [&](int64_t begin, int64_t end) {
    TileScratch<T>& sc = pool.mine();
    for_each_tile(begin, end, [&](int64_t row0, int rows) {
      tile_load<T>(rows, net, sc, z0, goal, init, row0, N, T_);
      std::fill(sc.m, sc.m + rows * TA, T(0));
      std::fill(sc.v, sc.v + rows * TA, T(0));
      uint32_t prob[kMaxTile], cand[kMaxTile];
      for (int c = 0; c < rows; ++c) {
        prob[c] = static_cast<uint32_t>((row0 + c) / N);
        cand[c] = static_cast<uint32_t>((row0 + c) % N);
      }
      const T lr = T(s.lr);
      for (int k = 0; k < s.iters; ++k) {
        tile_forward<T>(rows, net, obj, sc, T_, true);
        for (int c = 0; c < rows; ++c) row_hist[(row0 + c) * s.iters + k] = static_cast<T>(sc.cost[c]);
        tile_backward<T>(rows, net, obj, sc, T_);
        const AdamConsts<T> ac = adam_consts<T>(s.lr, s.beta1, s.beta2, s.eps, k + 1);
        for (int c = 0; c < rows; ++c) {
          T* a = sc.act + c * TA;
          T* m = sc.m + c * TA;
          T* v = sc.v + c * TA;
          const T* g = sc.grad + c * TA;
          for (int i = 0; i < TA; ++i) {
            T x = s.adam ? adam_update<T>(a[i], g[i], m[i], v[i], ac) : a[i] - lr * g[i];
            if (s.noise > T(0))
              x += s.noise * static_cast<T>(philox_normal(s.seed, kStreamNoise, static_cast<uint32_t>(k), prob[c],
                                                          cand[c], static_cast<uint32_t>(i)));
            const int j = i % A;
            a[i] = clamp_bounds<T>(x, obj.lo[j], obj.hi[j]);
          }
        }
      }
      tile_forward<T>(rows, net, obj, sc, T_, false);
      for (int c = 0; c < rows; ++c) row_cost[row0 + c] = static_cast<T>(sc.cost[c]);
      std::memcpy(rows_out + row0 * TA, sc.act, sizeof(T) * TA * rows);
    });
  });
}

}  // namespace WMK_ISA
#endif
