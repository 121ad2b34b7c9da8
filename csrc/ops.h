// Every op of the extension, declared once for both devices: <op>_cpu (CPU kernels) and
// <op>_cuda (CUDA kernels, defined only in a CUDA build). The schemas are defined from Python
// (wmkernels/ops/schema.py: same argument names, order and types); bindings.cpp registers the
// implementations for every op in WMK_OPS. Argument blocks:
//   model     = Tensor[] weights, Tensor[] biases, Tensor? skip (None: identity), int activation
//   objective = Tensor step_weights [T], Tensor state_weights [D], float action_penalty,
//               Tensor lo [A], Tensor hi [A]
// CPU kernels compute float32 inputs in float32 and float64 inputs in float64 (the Python
// front casts half precision to float32). CUDA kernels compute in float32 and cast back.
#pragma once
#include <ATen/ATen.h>
#include <tuple>

namespace wmk {

#define WMK_MODEL_ARGS \
  at::TensorList weights, at::TensorList biases, const c10::optional<at::Tensor>&skip_arg, int64_t activation
#define WMK_OBJ_ARGS                                                                                    \
  const at::Tensor &step_weights, const at::Tensor &state_weights, double action_penalty, const at::Tensor &lo, \
      const at::Tensor &hi

using Pair = std::tuple<at::Tensor, at::Tensor>;
using Triple = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

// Declares ret name_cpu(args) and ret name_cuda(args).
#define WMK_DECLARE_OP(ret, name, ...) \
  ret name##_cpu(__VA_ARGS__);         \
  ret name##_cuda(__VA_ARGS__);

WMK_DECLARE_OP(Pair, rollout, const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& actions, WMK_MODEL_ARGS,
               WMK_OBJ_ARGS, bool return_states)
WMK_DECLARE_OP(Pair, rollout_grad, const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& actions,
               WMK_MODEL_ARGS, WMK_OBJ_ARGS)
WMK_DECLARE_OP(void, adam_step, const at::Tensor& actions, const at::Tensor& grad, const at::Tensor& m,
               const at::Tensor& v, int64_t step, double lr, double beta1, double beta2, double eps,
               const at::Tensor& lo, const at::Tensor& hi, const c10::optional<at::Tensor>& noise)
WMK_DECLARE_OP(Triple, gbp_plan, const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& init, WMK_MODEL_ARGS,
               WMK_OBJ_ARGS, int64_t iters, double lr, int64_t optimizer, double beta1, double beta2, double eps,
               double noise, int64_t seed)
WMK_DECLARE_OP(Triple, cem_plan, const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& mean,
               const at::Tensor& std, WMK_MODEL_ARGS, WMK_OBJ_ARGS, int64_t samples, int64_t elites, int64_t iters,
               double momentum, int64_t seed)
WMK_DECLARE_OP(Triple, mppi_plan, const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& mean,
               const at::Tensor& std, WMK_MODEL_ARGS, WMK_OBJ_ARGS, int64_t samples, int64_t iters,
               double temperature, double momentum, int64_t seed)

// The ops above, for registration (bindings.cpp) and for anything that iterates over them.
#define WMK_OPS(X) X(rollout) X(rollout_grad) X(adam_step) X(gbp_plan) X(cem_plan) X(mppi_plan)

// The skip matrix as the kernels take it: the tensor, or an empty one for the identity.
inline at::Tensor skip_tensor(const c10::optional<at::Tensor>& skip, const at::Tensor& like) {
  return skip.has_value() && skip->defined() ? *skip : at::empty({0}, like.options());
}

// Philox words and normals, exposed for the tests (philox.h against wmkernels/_random.py).
at::Tensor philox_words_cpu(const at::Tensor& counters, int64_t seed, int64_t stream);
at::Tensor philox_normal_cpu(const at::Tensor& counters, int64_t seed, int64_t stream);

}  // namespace wmk
