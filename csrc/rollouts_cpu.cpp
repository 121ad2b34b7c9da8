// CPU rollout and rollout_grad (one fused forward + backward through time).
//
// Rows r = p * N + n of [P, N] candidates are cut into tiles of WMK_TILE rows; tiles run in
// parallel (at::parallel_for), each on its thread's preallocated scratch. Per tile and step:
//   x = [z_t, a_t];  h_l = act(h_{l-1} W_l + b_l);  z_{t+1} = z_t S + h_L W_o + b_o
//   cost += w_t sum_d q_d (z_{t+1,d} - g_d)^2        (+ lam ||a||^2 once)
// and backward (see wmkernels/ops/rollouts/naive.py for the maths).
#ifndef WMK_ISA
#include "cpu/cpu_common.h"
#include "ops.h"

#define WMK_TARGET_INCLUDE "rollouts_cpu.cpp"
namespace wmk {
namespace cpu {
#include "cpu/foreach_isa.h"
}  // namespace cpu

namespace {
template <typename T>
void rollout_impl(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& actions, at::TensorList weights,
                  at::TensorList biases, const at::Tensor& skip, int64_t activation, const at::Tensor& step_weights,
                  const at::Tensor& state_weights, double action_penalty, bool with_grad, bool return_states,
                  at::Tensor& cost, at::Tensor& extra) {
  const cpu::Net<T> net = cpu::pack_model<T>(weights, biases, skip, activation, with_grad);
  const cpu::Obj<T> obj = cpu::make_obj<T>(step_weights, state_weights, action_penalty, at::Tensor(), at::Tensor());
  const int64_t P = actions.size(0), N = actions.size(1), T_ = actions.size(2);
  cpu::ScratchPool<T> pool(net, T_, P * N, actions.options());
  WMK_ISA_CALL(T, rollout_tiles, net, obj, pool, z0.data_ptr<T>(), goal.data_ptr<T>(), actions.data_ptr<T>(), P, N,
               static_cast<int>(T_), with_grad, cost.data_ptr<T>(),
               (with_grad || return_states) ? extra.data_ptr<T>() : nullptr);
}

// Checks every argument; returns the skip matrix as the kernels take it.
at::Tensor check_all(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& actions, WMK_MODEL_ARGS,
                     WMK_OBJ_ARGS) {
  check_float_dtype(actions, "actions");
  TORCH_CHECK(actions.device().is_cpu(), "the cpp backend runs on CPU tensors");
  const at::Tensor skip = skip_tensor(skip_arg, actions);
  const auto da = check_model(weights, biases, skip, activation, actions);
  check_problem(z0, goal, actions, 1, step_weights, state_weights, da.first, da.second, actions);
  check_bounds(lo, hi, da.second, actions);
  return skip;
}
}  // namespace

Pair rollout_cpu(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& actions, WMK_MODEL_ARGS,
                 WMK_OBJ_ARGS, bool return_states) {
  const at::Tensor skip = check_all(z0, goal, actions, weights, biases, skip_arg, activation, step_weights,
                                    state_weights, action_penalty, lo, hi);
  const int64_t P = actions.size(0), N = actions.size(1), T_ = actions.size(2), D = z0.size(1);
  at::Tensor cost = cpu::new_output({P, N}, actions.options());
  at::Tensor states = return_states ? cpu::new_output({P, N, T_ + 1, D}, actions.options()) : cpu::new_output({0}, actions.options());
  if (P * N == 0) return {cost, states};
  AT_DISPATCH_FLOATING_TYPES(actions.scalar_type(), "wmkernels::rollout", [&] {
    rollout_impl<scalar_t>(z0, goal, actions, weights, biases, skip, activation, step_weights, state_weights,
                           action_penalty, false, return_states, cost, states);
  });
  return {cost, states};
}

Pair rollout_grad_cpu(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& actions, WMK_MODEL_ARGS,
                      WMK_OBJ_ARGS) {
  const at::Tensor skip = check_all(z0, goal, actions, weights, biases, skip_arg, activation, step_weights,
                                    state_weights, action_penalty, lo, hi);
  const int64_t P = actions.size(0), N = actions.size(1);
  at::Tensor cost = cpu::new_output({P, N}, actions.options());
  at::Tensor grad = cpu::new_output(actions.sizes(), actions.options());
  if (P * N == 0) return {cost, grad};
  AT_DISPATCH_FLOATING_TYPES(actions.scalar_type(), "wmkernels::rollout_grad", [&] {
    rollout_impl<scalar_t>(z0, goal, actions, weights, biases, skip, activation, step_weights, state_weights,
                           action_penalty, true, false, cost, grad);
  });
  return {cost, grad};
}

}  // namespace wmk

#else  // ---- per instruction set --------------------------------------------------------
namespace WMK_ISA {
#include "cpu/mlp_tile.h"

// extra: grad [R, T, A] when with_grad, else states [R, T+1, D] or null.
template <typename T>
void rollout_tiles(const Net<T>& net, const Obj<T>& obj, ScratchPool<T>& pool, const T* z0, const T* goal,
                   const T* actions, int64_t P, int64_t N, int T_, bool with_grad, T* cost, T* extra) {
  check_panels(net);
  const int D = net.D, Dp = net.Dp, TA = T_ * net.A;
  at::parallel_for(0, P * N, 1, [&](int64_t begin, int64_t end) {
    TileScratch<T>& sc = pool.mine();
    for_each_tile(begin, end, [&](int64_t row0, int rows) {
      tile_load<T>(rows, net, sc, z0, goal, actions, row0, N, T_);
      tile_forward<T>(rows, net, obj, sc, T_, with_grad);
      for (int c = 0; c < rows; ++c) cost[row0 + c] = static_cast<T>(sc.cost[c]);
      if (with_grad) {
        tile_backward<T>(rows, net, obj, sc, T_);
        std::memcpy(extra + row0 * TA, sc.grad, sizeof(T) * TA * rows);
      } else if (extra != nullptr) {
        for (int c = 0; c < rows; ++c)
          for (int t = 0; t <= T_; ++t)
            std::memcpy(extra + ((row0 + c) * (T_ + 1) + t) * D, sc.zs + (t * rows + c) * Dp, sizeof(T) * D);
      }
    });
  });
}

}  // namespace WMK_ISA
#endif
