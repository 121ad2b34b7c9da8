// ATen glue of the CUDA backend: checks, dtype casts, allocation of outputs and workspace,
// and the calls into the plain-CUDA launchers (cuda/launch.h). Compiled only in a CUDA build.
// The CUDA kernels compute in float32: float64 inputs are cast down and the results back.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAStream.h>  // at::cuda::getCurrentCUDAStream; no cuBLAS/cuSPARSE headers needed
#include <c10/cuda/CUDAGuard.h>

#include <cmath>
#include <vector>

#include "checks.h"
#include "cuda/launch.h"
#include "ops.h"
#include "outputs.h"

namespace wmk {
namespace {

at::Tensor f32(const at::Tensor& t) { return t.to(at::kFloat).contiguous(); }

void check_launch(cudaError_t err, const char* what) {
  TORCH_CHECK(err != cudaErrorInvalidValue || std::string(what).empty(), what,
              ": the model is too wide for the CUDA kernels' shared memory (or an argument is invalid)");
  TORCH_CHECK(err == cudaSuccess, what, " failed: ", cudaGetErrorString(err));
}

struct NetHolder {
  cuda::DeviceNet net{};
  std::vector<at::Tensor> keep;
};

NetHolder make_net(at::TensorList weights, at::TensorList biases, const at::Tensor& skip, int64_t activation) {
  NetHolder h;
  const int n = static_cast<int>(weights.size());
  cuda::DeviceNet& d = h.net;
  d.L = n - 1;
  d.D = static_cast<int>(weights[n - 1].size(1));
  d.K0 = static_cast<int>(weights[0].size(0));
  d.A = d.K0 - d.D;
  d.act = static_cast<int>(activation);
  d.Hmax = d.K0;
  for (int l = 0; l < n; ++l) {
    at::Tensor w = f32(weights[l]);
    at::Tensor wt = w.t().contiguous();
    at::Tensor b = f32(biases[l]);
    d.in[l] = static_cast<int>(w.size(0));
    d.out[l] = static_cast<int>(w.size(1));
    if (l < n - 1) d.Hmax = std::max(d.Hmax, d.out[l]);
    d.W[l] = w.data_ptr<float>();
    d.WT[l] = wt.data_ptr<float>();
    d.b[l] = b.data_ptr<float>();
    h.keep.insert(h.keep.end(), {w, wt, b});
  }
  d.S = nullptr;
  d.ST = nullptr;
  if (skip.numel() > 0) {
    at::Tensor s = f32(skip);
    at::Tensor st = s.t().contiguous();
    d.S = s.data_ptr<float>();
    d.ST = st.data_ptr<float>();
    h.keep.insert(h.keep.end(), {s, st});
  }
  return h;
}

struct ObjHolder {
  cuda::DeviceObj obj{};
  std::vector<at::Tensor> keep;
};

ObjHolder make_obj(const at::Tensor& step_weights, const at::Tensor& state_weights, double lam, const at::Tensor& lo,
                   const at::Tensor& hi) {
  ObjHolder h;
  at::Tensor w = f32(step_weights), q = f32(state_weights);
  h.obj.w = w.data_ptr<float>();
  h.obj.q = q.data_ptr<float>();
  h.obj.lam = static_cast<float>(lam);
  h.keep = {w, q};
  h.obj.lo = nullptr;
  h.obj.hi = nullptr;
  if (lo.defined() && lo.numel() > 0) {
    at::Tensor l = f32(lo), u = f32(hi);
    h.obj.lo = l.data_ptr<float>();
    h.obj.hi = u.data_ptr<float>();
    h.keep.insert(h.keep.end(), {l, u});
  }
  return h;
}

void check_device(const at::Tensor& t) {
  TORCH_CHECK(t.is_cuda(), "the cuda backend runs on CUDA tensors, got ", t.device());
  check_float_dtype(t, "input");
}

Pair rollout_common(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& actions, WMK_MODEL_ARGS,
                    WMK_OBJ_ARGS, bool return_states, bool with_grad) {
  check_device(actions);
  const c10::cuda::CUDAGuard guard(actions.device());
  const at::Tensor skip = skip_tensor(skip_arg, actions);
  const auto da = check_model(weights, biases, skip, activation, actions);
  check_problem(z0, goal, actions, 1, step_weights, state_weights, da.first, da.second, actions);
  check_bounds(lo, hi, da.second, actions);
  const int64_t P = actions.size(0), N = actions.size(1), T = actions.size(2), D = da.first;
  const auto opts = actions.options().dtype(at::kFloat);
  at::Tensor cost = new_output({P, N}, opts);
  at::Tensor extra = with_grad ? new_output(actions.sizes(), opts)
                               : (return_states ? new_output({P, N, T + 1, D}, opts) : new_output({0}, opts));
  if (P * N > 0) {
    NetHolder net = make_net(weights, biases, skip, activation);
    ObjHolder obj = make_obj(step_weights, state_weights, action_penalty, at::Tensor(), at::Tensor());
    at::Tensor z = f32(z0), g = f32(goal), a = f32(actions);
    cuda::RolloutArgs args{z.data_ptr<float>(), g.data_ptr<float>(), a.data_ptr<float>(), P, N, static_cast<int>(T),
                           cost.data_ptr<float>(), return_states && !with_grad ? extra.data_ptr<float>() : nullptr,
                           with_grad ? extra.data_ptr<float>() : nullptr};
    at::Tensor ws = new_output({std::max<int64_t>(1, cuda::rollout_workspace(net.net, args))}, opts);
    check_launch(cuda::launch_rollout(net.net, obj.obj, args, ws.data_ptr<float>(),
                                      at::cuda::getCurrentCUDAStream()), "wmkernels rollout");
  }
  return {cost.to(actions.scalar_type()), extra.to(actions.scalar_type())};
}

}  // namespace

Pair rollout_cuda(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& actions, WMK_MODEL_ARGS,
                  WMK_OBJ_ARGS, bool return_states) {
  return rollout_common(z0, goal, actions, weights, biases, skip_arg, activation, step_weights, state_weights,
                        action_penalty, lo, hi, return_states, false);
}

Pair rollout_grad_cuda(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& actions, WMK_MODEL_ARGS,
                       WMK_OBJ_ARGS) {
  return rollout_common(z0, goal, actions, weights, biases, skip_arg, activation, step_weights, state_weights,
                        action_penalty, lo, hi, false, true);
}

void adam_step_cuda(const at::Tensor& actions, const at::Tensor& grad, const at::Tensor& m, const at::Tensor& v,
                    int64_t step, double lr, double beta1, double beta2, double eps, const at::Tensor& lo,
                    const at::Tensor& hi, const c10::optional<at::Tensor>& noise) {
  check_device(actions);
  const c10::cuda::CUDAGuard guard(actions.device());
  TORCH_CHECK(step >= 1, "step must be >= 1");
  TORCH_CHECK(actions.is_contiguous() && m.is_contiguous() && v.is_contiguous(), "actions, m, v must be contiguous");
  TORCH_CHECK(grad.sizes() == actions.sizes() && m.sizes() == actions.sizes() && v.sizes() == actions.sizes(),
              "grad, m and v must have the shape of actions");
  const int64_t A = actions.size(-1);
  check_bounds(lo, hi, A, actions);
  const bool direct = actions.scalar_type() == at::kFloat && m.scalar_type() == at::kFloat &&
                      v.scalar_type() == at::kFloat;
  at::Tensor a = direct ? actions : f32(actions), mm = direct ? m : f32(m), vv = direct ? v : f32(v);
  at::Tensor g = f32(grad), l = f32(lo), h = f32(hi);
  at::Tensor nz = noise.has_value() && noise->defined() ? f32(*noise) : at::Tensor();
  cuda::AdamArgs args{};
  args.actions = a.data_ptr<float>();
  args.grad = g.data_ptr<float>();
  args.m = mm.data_ptr<float>();
  args.v = vv.data_ptr<float>();
  args.noise = nz.defined() ? nz.data_ptr<float>() : nullptr;
  args.lo = l.data_ptr<float>();
  args.hi = h.data_ptr<float>();
  args.numel = actions.numel();
  args.A = static_cast<int>(A);
  args.lr = static_cast<float>(lr);
  args.b1 = static_cast<float>(beta1);
  args.b2 = static_cast<float>(beta2);
  args.one_minus_b1 = static_cast<float>(1.0 - beta1);
  args.one_minus_b2 = static_cast<float>(1.0 - beta2);
  args.bc1 = static_cast<float>(1.0 - std::pow(beta1, double(step)));
  args.bc2 = static_cast<float>(1.0 - std::pow(beta2, double(step)));
  args.eps = static_cast<float>(eps);
  check_launch(cuda::launch_adam(args, at::cuda::getCurrentCUDAStream()), "wmkernels adam_step");
  if (!direct) {
    actions.copy_(a);
    m.copy_(mm);
    v.copy_(vv);
  }
}

Triple gbp_plan_cuda(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& init, WMK_MODEL_ARGS,
                     WMK_OBJ_ARGS, int64_t iters, double lr, int64_t optimizer, double beta1, double beta2,
                     double eps, double noise, int64_t seed) {
  check_device(init);
  const c10::cuda::CUDAGuard guard(init.device());
  const at::Tensor skip = skip_tensor(skip_arg, init);
  const auto da = check_model(weights, biases, skip, activation, init);
  check_problem(z0, goal, init, 1, step_weights, state_weights, da.first, da.second, init);
  check_bounds(lo, hi, da.second, init);
  TORCH_CHECK(iters >= 1, "iters must be >= 1");
  const int64_t P = init.size(0), N = init.size(1), T = init.size(2);
  TORCH_CHECK(N >= 1, "init must hold at least one candidate per problem");
  const auto opts = init.options().dtype(at::kFloat);
  at::Tensor rows = new_output(init.sizes(), opts);
  at::Tensor row_cost = new_output({P, N}, opts);
  at::Tensor row_hist = new_output({P, N, iters}, opts);
  if (P > 0) {
    NetHolder net = make_net(weights, biases, skip, activation);
    ObjHolder obj = make_obj(step_weights, state_weights, action_penalty, lo, hi);
    at::Tensor z = f32(z0), g = f32(goal), a0 = f32(init);
    cuda::GbpArgs args{};
    args.z0 = z.data_ptr<float>();
    args.goal = g.data_ptr<float>();
    args.init = a0.data_ptr<float>();
    args.P = P;
    args.N = N;
    args.T = static_cast<int>(T);
    args.iters = static_cast<int>(iters);
    args.adam = optimizer == 0;
    args.lr = lr;
    args.beta1 = beta1;
    args.beta2 = beta2;
    args.eps = eps;
    args.noise = static_cast<float>(noise);
    args.seed = check_seed(seed);
    args.rows = rows.data_ptr<float>();
    args.row_cost = row_cost.data_ptr<float>();
    args.row_hist = row_hist.data_ptr<float>();
    at::Tensor ws = new_output({std::max<int64_t>(1, cuda::gbp_workspace(net.net, args))}, opts);
    check_launch(cuda::launch_gbp(net.net, obj.obj, args, ws.data_ptr<float>(), at::cuda::getCurrentCUDAStream()),
                 "wmkernels gbp_plan");
  }
  const at::Tensor best = row_cost.argmin(1);
  const at::Tensor index = at::arange(P, best.options());
  at::Tensor actions = rows.index({index, best});
  at::Tensor cost = row_cost.index({index, best});
  at::Tensor history = row_hist.amin(1);
  const auto dt = init.scalar_type();
  return {actions.to(dt), cost.to(dt), history.to(dt)};
}

namespace {
Triple sampling_cuda(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& mean, const at::Tensor& std,
                     WMK_MODEL_ARGS, WMK_OBJ_ARGS, int64_t samples, int64_t elites, int64_t iters,
                     double temperature, double momentum, int64_t seed) {
  check_device(mean);
  const c10::cuda::CUDAGuard guard(mean.device());
  const at::Tensor skip = skip_tensor(skip_arg, mean);
  const auto da = check_model(weights, biases, skip, activation, mean);
  check_problem(z0, goal, mean, 0, step_weights, state_weights, da.first, da.second, mean);
  check_bounds(lo, hi, da.second, mean);
  TORCH_CHECK(std.sizes() == mean.sizes(), "std must have the shape of mean");
  TORCH_CHECK(samples >= 1 && iters >= 1 && elites <= samples, "need samples, iters >= 1 and elites <= samples");
  TORCH_CHECK(samples <= (1 << 16), "the cuda backend supports up to 65536 samples per problem");
  const int64_t P = mean.size(0);
  const auto opts = mean.options().dtype(at::kFloat);
  at::Tensor mu = mean.to(at::kFloat).clone().contiguous();
  at::Tensor sd = std.to(at::kFloat).clone().contiguous();
  at::Tensor cost = new_output({P}, opts);
  at::Tensor history = new_output({P, iters}, opts);
  if (P > 0) {
    NetHolder net = make_net(weights, biases, skip, activation);
    ObjHolder obj = make_obj(step_weights, state_weights, action_penalty, lo, hi);
    at::Tensor z = f32(z0), g = f32(goal);
    cuda::SamplingArgs args{};
    args.z0 = z.data_ptr<float>();
    args.goal = g.data_ptr<float>();
    args.P = P;
    args.T = static_cast<int>(mean.size(1));
    args.samples = static_cast<int>(samples);
    args.elites = static_cast<int>(elites);
    args.iters = static_cast<int>(iters);
    args.momentum = static_cast<float>(momentum);
    args.temperature = static_cast<float>(temperature);
    args.seed = check_seed(seed);
    args.mean = mu.data_ptr<float>();
    args.stdv = sd.data_ptr<float>();
    args.cost = cost.data_ptr<float>();
    args.history = history.data_ptr<float>();
    at::Tensor ws = new_output({std::max<int64_t>(1, cuda::sampling_workspace(net.net, args))}, opts);
    check_launch(cuda::launch_sampling(net.net, obj.obj, args, ws.data_ptr<float>(),
                                       at::cuda::getCurrentCUDAStream()), "wmkernels sampling plan");
  }
  const auto dt = mean.scalar_type();
  return {mu.to(dt), cost.to(dt), history.to(dt)};
}
}  // namespace

Triple cem_plan_cuda(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& mean, const at::Tensor& std,
                     WMK_MODEL_ARGS, WMK_OBJ_ARGS, int64_t samples, int64_t elites, int64_t iters, double momentum,
                     int64_t seed) {
  TORCH_CHECK(elites >= 1, "elites must be >= 1");
  return sampling_cuda(z0, goal, mean, std, weights, biases, skip_arg, activation, step_weights, state_weights,
                       action_penalty, lo, hi, samples, elites, iters, 1.0, momentum, seed);
}

Triple mppi_plan_cuda(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& mean, const at::Tensor& std,
                      WMK_MODEL_ARGS, WMK_OBJ_ARGS, int64_t samples, int64_t iters, double temperature,
                      double momentum, int64_t seed) {
  TORCH_CHECK(temperature > 0, "temperature must be > 0");
  return sampling_cuda(z0, goal, mean, std, weights, biases, skip_arg, activation, step_weights, state_weights,
                       action_penalty, lo, hi, samples, 0, iters, temperature, momentum, seed);
}

}  // namespace wmk
