"""A model whose tensors were replaced after construction is checked again at every call, on every
backend (MLPWorldModel.validate, called by the ops' front): the error names the tensor."""
import pytest
import torch

import wmkernels as wmk
from helpers import random_model

F64 = torch.float64
D, A = 4, 2

REPLACEMENTS = {
    "weights[1] shape": (lambda m: m.weights.__setitem__(1, torch.zeros(9, D, dtype=F64, device=m.device)),
                         r"model\.weights\[1\] must have 7 rows"),
    "biases[0] shape": (lambda m: m.biases.__setitem__(0, torch.zeros(3, dtype=F64, device=m.device)),
                        r"model\.biases\[0\] must have shape \[7\]"),
    "weights[1] dtype": (lambda m: m.weights.__setitem__(1, m.weights[1].float()),
                         r"model\.weights\[1\] is torch\.float32"),
    "weights[0] rank": (lambda m: m.weights.__setitem__(0, m.weights[0][0]),
                        r"model\.weights\[0\] must have 2 dimensions"),
    "skip shape": (lambda m: setattr(m, "skip", torch.eye(D + 1, dtype=F64, device=m.device)),
                   r"model\.skip must have shape \[4, 4\]"),
    "weights[1] meta": (lambda m: m.weights.__setitem__(1, torch.empty(7, D, dtype=F64, device="meta")),
                        r"model\.weights\[1\] is on the meta device"),
    "activation": (lambda m: setattr(m, "activation", "softplus"), r"model\.activation must be one of"),
}


@pytest.mark.parametrize("replacement", list(REPLACEMENTS))
def test_a_tensor_replaced_after_construction_is_refused(replacement, backend, device):
    model = random_model(D, A, (7,), "tanh", "matrix", device=device, seed=2)
    gen = torch.Generator().manual_seed(1)
    z0, goal = (torch.randn(2, D, generator=gen, dtype=F64).to(device) for _ in range(2))
    actions = torch.zeros(2, 3, 2, A, dtype=F64, device=device)
    obj = wmk.Objective()
    mutate, match = REPLACEMENTS[replacement]
    mutate(model)
    with pytest.raises((ValueError, TypeError), match=match):
        wmk.ops.rollout(model, z0, actions, goal, obj, backend=backend)
    with pytest.raises((ValueError, TypeError), match=match):
        wmk.ops.gbp_plan(model, z0, goal, obj, actions, 1, 0.1, backend=backend)
    with pytest.raises((ValueError, TypeError), match=match):
        wmk.MPPIPlanner(model, horizon=2, samples=4, iters=1, backend=backend).plan(z0, goal)


def test_inputs_on_the_meta_device_are_refused_naming_them():
    """A torch.nn.Module world model and inputs on the meta device (no values to plan with)."""
    module = random_model(D, A, (7,), "tanh").to_module().to("meta")
    z0 = torch.zeros(2, D, dtype=F64, device="meta")
    actions = torch.zeros(2, 3, 2, A, dtype=F64, device="meta")
    with pytest.raises(ValueError, match="z0 is on the meta device, which holds no values"):
        wmk.ops.rollout(module, z0, actions, z0, wmk.Objective(), backend="torch")
