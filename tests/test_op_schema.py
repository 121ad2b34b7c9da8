"""One schema per op (wmkernels/ops/schema.py) for the C++ and Triton backends: the registered
schemas agree, every backend's implementation is registered and passes torch.library's
schema and fake-tensor checks, and the differentiable rollout cost and torch.compile work
through them."""
import pytest
import torch

import wmkernels as wmk
from helpers import available_backends, fused_backends, random_model, random_problem, rel_err
from wmkernels import _backend
from wmkernels.ops import _fused, schema

TOL32 = 1e-4


def _arguments(op, backend):
    return [(a.name, str(a.type), a.alias_info is not None and a.alias_info.is_write)
            for a in schema.packet(op, backend).default._schema.arguments]


@pytest.mark.parametrize("op", schema.OPS)
def test_cpp_and_triton_ops_have_one_schema(op):
    cpp, triton = _arguments(op, "cpp"), _arguments(op, "triton")
    assert cpp == triton
    assert [n for n, _, _ in cpp][:2] in (["z0", "goal"], ["actions", "grad"])


@pytest.fixture(params=["cpp", "cuda", "triton"])
def fused(request, device):
    """A fused backend that runs on `device`, loaded (the others skip with their reason)."""
    reason = _backend.unavailable_reason(request.param, device)
    if reason is not None:
        pytest.skip(reason)
    _fused.load(request.param)
    return request.param


def test_every_op_has_an_implementation(fused, device):
    backend = fused
    key = {"cpp": "CPU", "cuda": "CUDA", "triton": "CPU" if torch.device(device).type == "cpu" else "CUDA"}[backend]
    for op in schema.OPS:
        assert torch._C._dispatch_has_kernel_for_dispatch_key(schema.qualname(op, backend), key), op


def _setup(device, dtype=torch.float32):
    D, A, T, N, P = 5, 2, 3, 2, 2
    model = random_model(D, A, (16,), "silu", "matrix", dtype=dtype, device=device)
    z0, actions, goal = random_problem(P, N, T, D, A, dtype=dtype, device=device)
    obj = wmk.Objective("all", base=0.5, action_penalty=0.1).resolve(T, D, A, dtype, device)
    return model, z0, actions, goal, obj


def test_ops_pass_the_schema_and_fake_tensor_checks(fused, device):
    backend = fused
    model, z0, actions, goal, obj = _setup(device)
    blocks = (*_fused.model_args(model, torch.float32), *_fused.objective_args(obj, torch.float32))
    mean = torch.zeros(z0.shape[0], actions.shape[2], actions.shape[3], device=device)
    std = torch.ones_like(mean)
    m, v = torch.zeros_like(actions), torch.ones_like(actions)
    cases = {
        "rollout": (z0, goal, actions, *blocks, True),
        "rollout_grad": (z0, goal, actions, *blocks),
        "adam_step": (actions.clone(), actions.clone(), m, v, 1, 0.1, 0.9, 0.999, 1e-8, obj.lo, obj.hi, None),
        "gbp_plan": (z0, goal, actions, *blocks, 2, 0.1, 0, 0.9, 0.999, 1e-8, 0.01, 3),
        "cem_plan": (z0, goal, mean, std, *blocks, 8, 3, 2, 0.1, 5),
        "mppi_plan": (z0, goal, mean, std, *blocks, 8, 2, 1.5, 0.0, 5),
    }
    assert set(cases) == set(schema.OPS)
    for op, args in cases.items():
        torch.library.opcheck(schema.packet(op, backend), args, test_utils=("test_schema", "test_faketensor"))


def _reference_grad(model, z0, actions, goal, obj, weights):
    """d sum(weights * cost) / d actions through the torch backend's autograd in float64."""
    a = actions.double().requires_grad_(True)
    cost = wmk.ops.rollout(model.to(dtype=torch.float64), z0.double(), a, goal.double(),
                           wmk.Objective("all", base=0.5, action_penalty=0.1), backend="torch")
    (cost * weights.double()).sum().backward()
    return a.grad


@pytest.mark.parametrize("backend", available_backends())
def test_rollout_cost_backward_is_the_rollout_gradient(backend, device):
    model, z0, actions, goal, _ = _setup(device)
    obj = wmk.Objective("all", base=0.5, action_penalty=0.1)
    weights = torch.rand(actions.shape[:2], generator=torch.Generator().manual_seed(0)).to(device)
    a = actions.clone().requires_grad_(True)
    (wmk.ops.rollout_cost(model, z0, a, goal, obj, backend=backend) * weights).sum().backward()
    assert rel_err(a.grad, _reference_grad(model, z0, actions, goal, obj, weights)) < TOL32


@pytest.mark.parametrize("backend", fused_backends())
def test_torch_compile_keeps_the_fused_ops_opaque(backend, device):
    model, z0, actions, goal, _ = _setup(device)
    obj = wmk.Objective("all", base=0.5, action_penalty=0.1)
    weights = torch.rand(actions.shape[:2], generator=torch.Generator().manual_seed(0)).to(device)

    def loss(a):
        return (wmk.ops.rollout_cost(model, z0, a, goal, obj, backend=backend) * weights).sum()

    compiled = torch.compile(loss, backend="aot_eager")
    a = actions.clone().requires_grad_(True)
    value = compiled(a)
    value.backward()
    assert rel_err(a.grad, _reference_grad(model, z0, actions, goal, obj, weights)) < TOL32
    assert abs(value.item() - loss(actions).item()) <= 1e-5 * abs(value.item())


def _strided(t):
    """The same values with other strides (as ops get them from torch.compile'd callers)."""
    return t.transpose(0, -1).contiguous().transpose(0, -1)


def _rollout_grad_args(device, strided):
    model, z0, actions, goal, obj = _setup(device)
    weights, biases, skip, act = _fused.model_args(model, torch.float32)
    if strided:
        z0, goal, actions, skip = map(_strided, (z0, goal, actions, skip))
        weights = [_strided(w) for w in weights]
    return (z0, goal, actions, weights, biases, skip, act, *_fused.objective_args(obj, torch.float32))


def test_triton_ops_take_non_contiguous_inputs(device):
    """The Triton launchers make their inputs contiguous (ops/_triton/library.py)."""
    if _backend.unavailable_reason("triton", device) is not None:
        pytest.skip(_backend.unavailable_reason("triton", device))
    _fused.load("triton")
    strided = _rollout_grad_args(device, strided=True)
    assert not strided[2].is_contiguous()
    out = schema.packet("rollout_grad", "triton")(*strided)
    ref = schema.packet("rollout_grad", "triton")(*_rollout_grad_args(device, strided=False))
    for a, b in zip(out, ref):
        assert torch.equal(a, b)


def test_cpp_ops_refuse_non_contiguous_inputs_by_name():
    """The C++ ops read raw pointers: a strided input is refused with its name, never misread."""
    if _backend.unavailable_reason("cpp", "cpu") is not None:
        pytest.skip(_backend.unavailable_reason("cpp", "cpu"))
    _fused.load("cpp")
    with pytest.raises(RuntimeError, match="must be contiguous"):
        schema.packet("rollout_grad", "cpp")(*_rollout_grad_args("cpu", strided=True))


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs: a tensor on a non-current device")
@pytest.mark.parametrize("backend", ["triton", "cuda"])
def test_fused_ops_launch_on_the_tensors_device(backend):
    reason = _backend.unavailable_reason(backend, "cuda:1")
    if reason is not None:
        pytest.skip(reason)
    torch.cuda.set_device(0)
    model, z0, actions, goal, _ = _setup("cuda:1")
    obj = wmk.Objective("all", base=0.5, action_penalty=0.1)
    cost, grad = wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend=backend)
    ref_cost, ref_grad = wmk.ops.rollout_grad(model.to(device="cpu"), z0.cpu(), actions.cpu(), goal.cpu(), obj,
                                              backend="torch")
    assert cost.device == torch.device("cuda:1")
    assert rel_err(cost, ref_cost) < TOL32 and rel_err(grad, ref_grad) < TOL32
