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
    (dict(mode="first"), r"mode must be 'last' or 'all' \(or pass weights=\[T\]\), got 'first'$"),
    (dict(lo=1.0, hi=0.0), "lo must be <= hi everywhere, got lo=1.0 hi=0.0$"),
    (dict(lo=[0.0, 2.0], hi=[1.0, 1.0]), "lo must be <= hi"),
    (dict(lo=float("nan")), "lo is NaN"),
    (dict(lo=float("inf"), hi=float("inf")), r"lo must not be \+inf"),
    (dict(lo=[0.0, float("inf")], hi=float("inf")), r"lo must not be \+inf"),
    (dict(lo=float("-inf"), hi=float("-inf")), "hi must not be -inf"),
    (dict(hi=[float("-inf"), 1.0]), "hi must not be -inf"),
    (dict(hi=[0.0, float("nan")]), "hi contains NaN$"),
    (dict(weights=[1.0, float("nan")]), "weights contains NaN"),
    (dict(weights=[1.0, -1.0]), "weights must be non-negative$"),
    (dict(q=[1.0, float("inf")]), "q contains NaN or Inf"),
    (dict(q=[1.0, -0.5]), "q must be non-negative$"),
    (dict(q=[[1.0]]), "q must be a non-empty 1-d"),
    (dict(base=0.0), "base must be > 0"),
    (dict(action_penalty=-1.0), "action_penalty must be >= 0"),
    (dict(action_penalty=float("nan")), "action_penalty must be finite"),
])
def test_bad_objectives_name_the_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match="^" + match):
        wmk.Objective(**kwargs)


def test_resolve_checks_sizes():
    with pytest.raises(ValueError, match="^weights has 2 entries but the horizon is 3$"):
        wmk.Objective(weights=[1.0, 1.0]).resolve(3, 2, 2)
    with pytest.raises(ValueError, match="^q has 2 entries but the state has 3 dimensions$"):
        wmk.Objective(q=[1.0, 1.0]).resolve(3, 3, 2)
    with pytest.raises(ValueError, match="^lo has 3 entries but actions have 2 dimensions$"):
        wmk.Objective(lo=[-1.0] * 3, hi=1.0).resolve(3, 3, 2)
    with pytest.raises(ValueError, match="^hi has 1 entries but actions have 2 dimensions$"):
        wmk.Objective(lo=-1.0, hi=[1.0]).resolve(3, 3, 2)


def test_defaults_are_the_documented_ones():
    """docs/maths.md: mode "last", base 1 (every step weighs 1 under "all"), q ones, lambda 0,
    bounds -1 and 1."""
    r = wmk.Objective().resolve(3, 2, 2, torch.float64)
    assert r.step_weights.tolist() == [0, 0, 1] and r.state_weights.tolist() == [1, 1]
    assert r.action_penalty == 0 and r.lo.tolist() == [-1, -1] and r.hi.tolist() == [1, 1]
    assert wmk.Objective("all").resolve(3, 2, 2, torch.float64).step_weights.tolist() == [1, 1, 1]


def test_zero_and_fractional_state_weights_and_equal_bounds_are_accepted():
    r = wmk.Objective(q=[0.0, 0.25, 2.0], lo=[0.5, -1.0], hi=[0.5, 1.0]).resolve(2, 3, 2, torch.float64)
    assert r.state_weights.tolist() == [0.0, 0.25, 2.0]
    assert r.lo.tolist() == [0.5, -1.0] and r.hi.tolist() == [0.5, 1.0]


def test_a_resolved_objective_cannot_be_changed():
    """Planners keep the resolved objective between plans, so it is immutable."""
    import dataclasses
    r = wmk.Objective().resolve(2, 2, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.action_penalty = 1.0


def test_repr_says_what_was_given():
    assert repr(wmk.Objective("all", base=0.5)) == \
        "Objective(mode='all', base=0.5, q=ones, action_penalty=0.0, lo=-1.0, hi=1.0)"
    assert repr(wmk.Objective(q=[1.0], action_penalty=0.1, lo=-2.0, hi=float("inf"))) == \
        "Objective(mode='last', base=1.0, q=given, action_penalty=0.1, lo=-2.0, hi=inf)"


@pytest.mark.parametrize("batch", [(2, 3), (6,)], ids=["batch2x3", "batch6"])
@pytest.mark.parametrize("penalty", [0.0, 0.3])
def test_cost_is_the_documented_sum_term_by_term(penalty, batch):
    """C = sum_{t=1..T} w_t sum_d q_d (z_{t,d} - g_d)^2 + lam sum_t ||a_t||^2, over one or two
    batch axes, written out as loops over plain Python floats."""
    from wmkernels.objective import cost
    gen = torch.Generator().manual_seed(5)
    T, D_, A_ = 4, 3, 2
    states = torch.randn(*batch, T + 1, D_, generator=gen, dtype=torch.float64).reshape(-1, T + 1, D_)
    actions = torch.randn(*batch, T, A_, generator=gen, dtype=torch.float64).reshape(-1, T, A_)
    goal = torch.randn(*batch, D_, generator=gen, dtype=torch.float64).reshape(-1, D_)
    obj = wmk.Objective(weights=[0.5, 0.0, 1.5, 2.0], q=[1.0, 0.25, 3.0], action_penalty=penalty).resolve(
        T, D_, A_, torch.float64)
    got = cost(states.reshape(*batch, T + 1, D_), actions.reshape(*batch, T, A_), goal.reshape(*batch, D_), obj)
    assert got.shape == batch
    w, q = obj.step_weights.tolist(), obj.state_weights.tolist()
    for i, value in enumerate(got.flatten().tolist()):
        want = 0.0
        for t in range(1, T + 1):
            for d in range(D_):
                want += w[t - 1] * q[d] * (float(states[i, t, d]) - float(goal[i, d])) ** 2
        want += penalty * sum(float(a) ** 2 for a in actions[i].flatten())
        assert value == pytest.approx(want, rel=1e-12)
