import pytest
import torch

import wmkernels as wmk


def test_step_weights_per_mode():
    r = wmk.Objective("last").resolve(4, 3, 2, torch.float64)
    assert r.step_weights.tolist() == [0, 0, 0, 1]
    r = wmk.Objective("all", base=0.5).resolve(4, 3, 2, torch.float64)
    assert r.step_weights.tolist() == [1, 0.5, 0.25, 0.125]
    r = wmk.Objective(weights=[0.1, 2.0, 0.0]).resolve(3, 3, 2, torch.float64)
    assert r.step_weights.tolist() == [0.1, 2.0, 0.0]
    assert r.state_weights.tolist() == [1, 1, 1]


def test_bounds_broadcast_and_vector():
    r = wmk.Objective(lo=-2.0, hi=[1.0, 3.0]).resolve(2, 3, 2, torch.float32)
    assert r.lo.tolist() == [-2, -2] and r.hi.tolist() == [1, 3]
    r = wmk.Objective(lo=float("-inf"), hi=float("inf")).resolve(2, 3, 2)
    assert torch.isinf(r.lo).all() and torch.isinf(r.hi).all()


@pytest.mark.parametrize("kwargs,match", [
    (dict(mode="first"), "mode must be"),
    (dict(lo=1.0, hi=0.0), "lo must be <= hi"),
    (dict(lo=[0.0, 2.0], hi=[1.0, 1.0]), "lo must be <= hi"),
    (dict(lo=float("nan")), "lo is NaN"),
    (dict(lo=float("inf"), hi=float("inf")), r"lo must not be \+inf"),
    (dict(lo=[0.0, float("inf")], hi=float("inf")), r"lo must not be \+inf"),
    (dict(lo=float("-inf"), hi=float("-inf")), "hi must not be -inf"),
    (dict(hi=[float("-inf"), 1.0]), "hi must not be -inf"),
    (dict(hi=[0.0, float("nan")]), "hi contains NaN"),
    (dict(weights=[1.0, float("nan")]), "weights contains NaN"),
    (dict(weights=[1.0, -1.0]), "weights must be non-negative"),
    (dict(q=[1.0, float("inf")]), "q contains NaN or Inf"),
    (dict(q=[[1.0]]), "q must be a non-empty 1-d"),
    (dict(base=0.0), "base must be > 0"),
    (dict(action_penalty=-1.0), "action_penalty must be >= 0"),
    (dict(action_penalty=float("nan")), "action_penalty must be finite"),
])
def test_bad_objectives_name_the_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        wmk.Objective(**kwargs)


def test_resolve_checks_sizes():
    with pytest.raises(ValueError, match="weights has 2 entries but the horizon is 3"):
        wmk.Objective(weights=[1.0, 1.0]).resolve(3, 2, 2)
    with pytest.raises(ValueError, match="q has 2 entries but the state has 3"):
        wmk.Objective(q=[1.0, 1.0]).resolve(3, 3, 2)
    with pytest.raises(ValueError, match="lo has 3 entries but actions have 2"):
        wmk.Objective(lo=[-1.0] * 3, hi=1.0).resolve(3, 3, 2)
