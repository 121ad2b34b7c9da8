"""The one schema of every fused op, shared by the C++ (CPU, CUDA) and Triton backends, and
its shape-only (fake) implementation for torch.compile and FakeTensor.

Each op is defined twice in the torch.library namespace ``wmkernels`` from the same string:
``wmkernels::<op>`` (implemented by the C++ extension for CPU and CUDA tensors) and
``wmkernels::triton_<op>`` (implemented by the Triton kernels). The argument blocks:

    model     = Tensor[] weights, Tensor[] biases, Tensor? skip, int activation
                (weights [D+A, H_1], ..., [H_L, D]; skip [D, D] or None for the identity;
                activation: an id of wmkernels.activations.IDS)
    objective = Tensor step_weights [T], Tensor state_weights [D], float action_penalty,
                Tensor lo [A], Tensor hi [A]

Every tensor argument of one call has one dtype, the backend's compute dtype
(wmkernels/ops/_fused.py); outputs have it too. The maths: docs/maths.md; how to add an op:
docs/extending.md.
"""
import torch

MODEL = "Tensor[] weights, Tensor[] biases, Tensor? skip, int activation"
OBJECTIVE = "Tensor step_weights, Tensor state_weights, float action_penalty, Tensor lo, Tensor hi"
_PROBLEM = "Tensor z0, Tensor goal"

# op name -> schema (argument list and returns); each op's fake is fake_<op> below
SCHEMAS = {
    "rollout": f"({_PROBLEM}, Tensor actions, {MODEL}, {OBJECTIVE}, bool return_states) -> (Tensor, Tensor)",
    "rollout_grad": f"({_PROBLEM}, Tensor actions, {MODEL}, {OBJECTIVE}) -> (Tensor, Tensor)",
    "adam_step": ("(Tensor(a!) actions, Tensor grad, Tensor(b!) m, Tensor(c!) v, int step, float lr, float beta1, "
                  "float beta2, float eps, Tensor lo, Tensor hi, Tensor? noise) -> ()"),
    "gbp_plan": (f"({_PROBLEM}, Tensor init, {MODEL}, {OBJECTIVE}, int iters, float lr, int optimizer, "
                 "float beta1, float beta2, float eps, float noise, int seed) -> (Tensor, Tensor, Tensor)"),
    "cem_plan": (f"({_PROBLEM}, Tensor mean, Tensor std, {MODEL}, {OBJECTIVE}, int samples, int elites, "
                 "int iters, float momentum, int seed) -> (Tensor, Tensor, Tensor)"),
    "mppi_plan": (f"({_PROBLEM}, Tensor mean, Tensor std, {MODEL}, {OBJECTIVE}, int samples, int iters, "
                  "float temperature, float momentum, int seed) -> (Tensor, Tensor, Tensor)"),
}
OPS = tuple(SCHEMAS)
# The optimizer ids of gbp_plan.
OPTIMIZERS = ("adam", "sgd")
# Op-name prefix per backend: the C++ ops serve "cpp" (CPU) and "cuda" through one name.
PREFIX = {"cpp": "", "cuda": "", "triton": "triton_"}

_library = None


# ---- fake implementations: output shapes only -------------------------------------------
def fake_rollout(z0, goal, actions, weights, biases, skip, activation, step_weights, state_weights, action_penalty,
            lo, hi, return_states):
    P, N, T, _ = actions.shape
    states = actions.new_empty((P, N, T + 1, z0.shape[1])) if return_states else actions.new_empty((0,))
    return actions.new_empty((P, N)), states


def fake_rollout_grad(z0, goal, actions, weights, biases, skip, activation, step_weights, state_weights,
                 action_penalty, lo, hi):
    return actions.new_empty(actions.shape[:2]), actions.new_empty(actions.shape)


def fake_adam_step(actions, grad, m, v, step, lr, beta1, beta2, eps, lo, hi, noise):
    return None


def fake_gbp_plan(z0, goal, init, weights, biases, skip, activation, step_weights, state_weights, action_penalty,
             lo, hi, iters, lr, optimizer, beta1, beta2, eps, noise, seed):
    P, _, T, A = init.shape
    return init.new_empty((P, T, A)), init.new_empty((P,)), init.new_empty((P, iters))


def _sampling_plan(mean, iters):
    return mean.new_empty(mean.shape), mean.new_empty(mean.shape[:1]), mean.new_empty((mean.shape[0], iters))


def fake_cem_plan(z0, goal, mean, std, weights, biases, skip, activation, step_weights, state_weights,
             action_penalty, lo, hi, samples, elites, iters, momentum, seed):
    return _sampling_plan(mean, iters)


def fake_mppi_plan(z0, goal, mean, std, weights, biases, skip, activation, step_weights, state_weights,
              action_penalty, lo, hi, samples, iters, temperature, momentum, seed):
    return _sampling_plan(mean, iters)



def qualname(op: str, backend: str) -> str:
    """'wmkernels::<prefix><op>' of a fused backend."""
    return f"wmkernels::{PREFIX[backend]}{op}"


def packet(op: str, backend: str):
    """The OpOverloadPacket torch.ops.wmkernels.<prefix><op>."""
    define()
    return getattr(torch.ops.wmkernels, PREFIX[backend] + op)


def define():
    """Define every op for every prefix (once per process), and register their fakes."""
    global _library
    if _library is not None:
        return
    _library = torch.library.Library("wmkernels", "FRAGMENT")
    for prefix in sorted(set(PREFIX.values())):
        for op, schema in SCHEMAS.items():
            _library.define(prefix + op + schema)
    for op in OPS:
        for prefix in sorted(set(PREFIX.values())):
            torch.library.register_fake(f"wmkernels::{prefix}{op}", globals()["fake_" + op])
