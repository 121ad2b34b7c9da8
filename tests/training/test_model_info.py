"""Model metadata (training/model_info.py): what a model says about itself, checked, and the
objective built from it."""
import numpy as np
import pytest
import torch

pytest.importorskip("mujoco")

import wmkernels  # noqa: E402
from training.envs import make  # noqa: E402
from training.model_info import ModelInfo, model_metadata, planning_objective  # noqa: E402
from training.models import Normalizer  # noqa: E402


def metadata(num_hist=1):
    env = make("gym:Reacher-v5")
    rng = np.random.default_rng(0)
    norm = Normalizer(rng.normal(size=8), rng.uniform(0.5, 2, 8), rng.normal(size=10), rng.uniform(0.5, 2, 10),
                      rng.normal(size=8), rng.uniform(0.1, 1, 8), num_hist)
    return model_metadata(env, {"frameskip": 5}, {"method": "online", "num_hist": num_hist}, norm, 5), norm


def test_metadata_round_trips_through_a_model_file(tmp_path):
    meta, norm = metadata(num_hist=2)
    model = wmkernels.MLPWorldModel([torch.zeros(26, 4), torch.zeros(4, 16)], [torch.zeros(4), torch.zeros(16)],
                                    metadata=meta)
    model.save(tmp_path / "m.wmk")
    info = ModelInfo.of(wmkernels.MLPWorldModel.load(tmp_path / "m.wmk"))
    assert (info.env, info.method, info.num_hist, info.frameskip) == ("gym:Reacher-v5", "online", 2, 5)
    assert info.env_kwargs == {"frameskip": 5} and info.state_dim == 8 and info.planner_action_dim == 10
    np.testing.assert_allclose(info.normalization["action_std"], norm.action_std.double().numpy())
    q = info.objective(dims=[1]).resolve(5, 16, 10, dtype=torch.float64).state_weights.numpy()
    expected = np.zeros(16)
    expected[8 + 1] = 1 / norm.state_std.double().numpy()[1] ** 2   # the newest frame only
    np.testing.assert_allclose(q, expected, rtol=1e-12)


def test_a_model_without_metadata_and_bad_metadata_are_named():
    bare = wmkernels.MLPWorldModel([torch.zeros(18, 4), torch.zeros(4, 8)], [torch.zeros(4), torch.zeros(8)])
    with pytest.raises(ValueError, match="carries no metadata"):
        ModelInfo.of(bare)
    meta, _ = metadata()
    with pytest.raises(ValueError, match="schema must be 'wmkernels.training/1'"):
        ModelInfo.from_metadata({**meta, "schema": "other"})
    with pytest.raises(ValueError, match="'frameskip' must be an int >= 1"):
        ModelInfo.from_metadata({**meta, "frameskip": 0})
    broken = {**meta, "normalization": {**meta["normalization"], "state_std": [1.0] * 7}}
    with pytest.raises(ValueError, match="'normalization.state_std' must be a finite vector of length 8"):
        ModelInfo.from_metadata(broken)
    with pytest.raises(ValueError, match="lacks 'action.low'"):
        ModelInfo.from_metadata({**meta, "action": {}})


def test_planning_objective_checks_its_dims_and_mode():
    with pytest.raises(ValueError, match=r"dims must be state indices in \[0, 3\)"):
        planning_objective([1.0, 1.0, 1.0], 1, [3], [-1.0], [1.0], 2)
    with pytest.raises(ValueError, match="mode must be one of"):
        planning_objective([1.0, 1.0, 1.0], 1, [0], [-1.0], [1.0], 2, mode="first")
