"""Wide hidden layers on the cpp backend: float32 sums over 100,000 terms stay as accurate as
torch's (blocked summation, csrc/cpu/panel_gemm.h), and a small batch gets a small scratch
(sized to the rows rolled out together, not to a full 32-row tile per thread)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import wmkernels as wmk
from cpp_helpers import cpp_reason, poison  # noqa: F401  (poison: autouse fixture)
from helpers import random_model, random_problem, rel_err

pytestmark = pytest.mark.skipif(cpp_reason() is not None, reason=str(cpp_reason()))


@pytest.mark.parametrize("width", [20_000, 100_000])
def test_float32_gradient_of_a_wide_layer_is_as_accurate_as_torch(width):
    model = random_model(5, 3, (width,), "tanh", "matrix", seed=4)
    z0, actions, goal = random_problem(2, 3, 4, 5, 3, seed=5)
    obj = wmk.Objective("all", base=0.7, action_penalty=0.01)
    want = wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend="torch")   # float64
    args = (model.to(torch.float32), z0.float(), actions.float(), goal.float(), obj)
    torch_err = [rel_err(o, w) for o, w in zip(wmk.ops.rollout_grad(*args, backend="torch"), want)]
    cpp_err = [rel_err(o, w) for o, w in zip(wmk.ops.rollout_grad(*args, backend="cpp"), want)]
    for name, cpp, ref in zip(("cost", "gradient"), cpp_err, torch_err):
        assert cpp < 1e-5 and cpp <= 2 * ref + 1e-7, (name, cpp, ref)


def test_scratch_is_sized_to_the_batch_not_to_the_width():
    """One candidate row through a 2,000,000-wide layer: the call's peak memory beyond the model
    and its packed copies stays small (a 32-row tile per thread would be about 2 GB here)."""
    script = textwrap.dedent("""
        import resource, sys, torch
        sys.path.insert(0, sys.argv[1])
        import wmkernels as wmk
        from helpers import random_model, random_problem
        torch.set_num_threads(2)
        model = random_model(5, 3, (2_000_000,), "relu", dtype=torch.float32, seed=1)
        z0, actions, goal = random_problem(1, 1, 2, 5, 3, torch.float32, seed=2)
        obj = wmk.Objective("all", base=0.7)
        wmk.ops.rollout(model, z0, actions, goal, obj, backend="cpp")   # loads the extension
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        wmk.ops.rollout_grad(model, z0, actions, goal, obj, backend="cpp")
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
    """)
    tests = Path(__file__).resolve().parents[1]
    env = dict(os.environ, WMK_POISON="1")   # scratch filled with NaN: every page of it is touched
    out = subprocess.run([sys.executable, "-c", script, str(tests)], capture_output=True, text=True, timeout=300,
                         env=env)
    assert out.returncode == 0, out.stderr
    grown_mib = float(out.stdout.split()[-1])
    print(f"peak memory grew by {grown_mib:.0f} MiB")
    model_mib = (8 + 5) * 2_000_000 * 4 / 2**20       # 99 MiB of weights
    assert grown_mib < 3 * model_mib + 64, grown_mib   # the packed weights and transposes, and a little scratch
