// The extension's op implementations, registered in bindings.cpp. Schemas (torch.library):
//   model    = Tensor[] weights, Tensor[] biases, Tensor skip (empty: identity), int activation
//   objective= Tensor step_weights [T], Tensor state_weights [D], float action_penalty
// CPU kernels compute float32 inputs in float32 and float64 inputs in float64 (the Python
// wrappers cast half precision to float32). CUDA kernels compute in float32 and cast back.
#pragma once
#include <ATen/ATen.h>
#include <tuple>

namespace wmk {

#define WMK_MODEL_ARGS at::TensorList weights, at::TensorList biases, const at::Tensor &skip, int64_t activation
#define WMK_OBJ_ARGS const at::Tensor &step_weights, const at::Tensor &state_weights, double action_penalty

std::tuple<at::Tensor, at::Tensor> rollout_cpu(const at::Tensor& z0, const at::Tensor& actions, const at::Tensor& goal,
                                               WMK_MODEL_ARGS, WMK_OBJ_ARGS, bool return_states);
std::tuple<at::Tensor, at::Tensor> rollout_grad_cpu(const at::Tensor& z0, const at::Tensor& actions,
                                                    const at::Tensor& goal, WMK_MODEL_ARGS, WMK_OBJ_ARGS);
void adam_step_cpu(const at::Tensor& actions, const at::Tensor& grad, const at::Tensor& m, const at::Tensor& v,
                   int64_t step, double lr, double beta1, double beta2, double eps, const at::Tensor& lo,
                   const at::Tensor& hi, const c10::optional<at::Tensor>& noise);
std::tuple<at::Tensor, at::Tensor, at::Tensor> gbp_plan_cpu(
    const at::Tensor& z0, const at::Tensor& goal, WMK_MODEL_ARGS, WMK_OBJ_ARGS, const at::Tensor& lo,
    const at::Tensor& hi, const at::Tensor& init, int64_t iters, double lr, int64_t optimizer, double beta1,
    double beta2, double eps, double noise, int64_t seed);
std::tuple<at::Tensor, at::Tensor, at::Tensor> cem_plan_cpu(
    const at::Tensor& z0, const at::Tensor& goal, WMK_MODEL_ARGS, WMK_OBJ_ARGS, const at::Tensor& lo,
    const at::Tensor& hi, const at::Tensor& mean, const at::Tensor& std, int64_t samples, int64_t elites,
    int64_t iters, double momentum, int64_t seed);
std::tuple<at::Tensor, at::Tensor, at::Tensor> mppi_plan_cpu(
    const at::Tensor& z0, const at::Tensor& goal, WMK_MODEL_ARGS, WMK_OBJ_ARGS, const at::Tensor& lo,
    const at::Tensor& hi, const at::Tensor& mean, const at::Tensor& std, int64_t samples, int64_t iters,
    double temperature, double momentum, int64_t seed);

// Philox words and normals, exposed for the tests (philox.h against wmkernels/_random.py).
at::Tensor philox_words_cpu(const at::Tensor& counters, int64_t seed, int64_t stream);
at::Tensor philox_normal_cpu(const at::Tensor& counters, int64_t seed, int64_t stream);

#ifdef WMK_WITH_CUDA
std::tuple<at::Tensor, at::Tensor> rollout_cuda(const at::Tensor& z0, const at::Tensor& actions, const at::Tensor& goal,
                                                WMK_MODEL_ARGS, WMK_OBJ_ARGS, bool return_states);
std::tuple<at::Tensor, at::Tensor> rollout_grad_cuda(const at::Tensor& z0, const at::Tensor& actions,
                                                     const at::Tensor& goal, WMK_MODEL_ARGS, WMK_OBJ_ARGS);
void adam_step_cuda(const at::Tensor& actions, const at::Tensor& grad, const at::Tensor& m, const at::Tensor& v,
                    int64_t step, double lr, double beta1, double beta2, double eps, const at::Tensor& lo,
                    const at::Tensor& hi, const c10::optional<at::Tensor>& noise);
std::tuple<at::Tensor, at::Tensor, at::Tensor> gbp_plan_cuda(
    const at::Tensor& z0, const at::Tensor& goal, WMK_MODEL_ARGS, WMK_OBJ_ARGS, const at::Tensor& lo,
    const at::Tensor& hi, const at::Tensor& init, int64_t iters, double lr, int64_t optimizer, double beta1,
    double beta2, double eps, double noise, int64_t seed);
std::tuple<at::Tensor, at::Tensor, at::Tensor> cem_plan_cuda(
    const at::Tensor& z0, const at::Tensor& goal, WMK_MODEL_ARGS, WMK_OBJ_ARGS, const at::Tensor& lo,
    const at::Tensor& hi, const at::Tensor& mean, const at::Tensor& std, int64_t samples, int64_t elites,
    int64_t iters, double momentum, int64_t seed);
std::tuple<at::Tensor, at::Tensor, at::Tensor> mppi_plan_cuda(
    const at::Tensor& z0, const at::Tensor& goal, WMK_MODEL_ARGS, WMK_OBJ_ARGS, const at::Tensor& lo,
    const at::Tensor& hi, const at::Tensor& mean, const at::Tensor& std, int64_t samples, int64_t iters,
    double temperature, double momentum, int64_t seed);
#endif

}  // namespace wmk
