import pytest
import torch

import wmkernels as wmk
from wmkernels import activations
from helpers import random_model

SHAPES = [(5, 3, (17,)), (4, 1, (9, 13)), (7, 2, (16, 5, 11)), (3, 6, (8, 8, 8, 8))]


@pytest.mark.parametrize("activation", activations.NAMES)
@pytest.mark.parametrize("D,A,widths", SHAPES, ids=lambda s: str(s))
def test_module_round_trip_matches_step(activation, D, A, widths):
    model = random_model(D, A, widths, activation, skip="matrix")
    module = model.to_module()
    z, a = torch.randn(11, D, dtype=torch.float64), torch.randn(11, A, dtype=torch.float64)
    ref = module(z, a)
    assert torch.allclose(model.step(z, a), ref, rtol=1e-12, atol=1e-12)
    back = wmk.MLPWorldModel.from_module(module)
    assert torch.allclose(back.step(z, a), ref, rtol=1e-12, atol=1e-12)


def test_from_sequential_is_residual():
    seq = torch.nn.Sequential(torch.nn.Linear(6, 10), torch.nn.GELU(approximate="tanh"), torch.nn.Linear(10, 4))
    model = wmk.MLPWorldModel.from_module(seq)
    z, a = torch.randn(3, 4), torch.randn(3, 2)
    assert (model.state_dim, model.action_dim, model.widths, model.activation) == (4, 2, [10], "gelu")
    assert torch.allclose(model.step(z, a), z + seq(torch.cat([z, a], -1)), atol=1e-6)


@pytest.mark.parametrize("activation", activations.NAMES)
def test_activation_matches_torch_layer_and_derivative_matches_autograd(activation):
    x = torch.randn(257, dtype=torch.float64, requires_grad=True)
    y = activations.apply(activation, x)
    assert torch.allclose(y, activations.module(activation)(x), atol=1e-12)
    (g,) = torch.autograd.grad(y.sum(), x)
    assert torch.allclose(activations.derivative(activation, x.detach()), g, atol=1e-12)


@pytest.mark.parametrize("skip", ["identity", "matrix", "zero"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_save_load_round_trip(tmp_path, skip, dtype):
    model = random_model(5, 3, (9, 7), "tanh", skip=skip, dtype=dtype)
    path = tmp_path / "m.wmk"
    model.save(path)
    loaded = wmk.MLPWorldModel.load(path)
    assert loaded.activation == "tanh" and loaded.dtype == dtype
    for a, b in zip(model.weights + model.biases, loaded.weights + loaded.biases):
        assert torch.equal(a, b)
    assert (loaded.skip is None) == (model.skip is None)
    if model.skip is not None:
        assert torch.equal(loaded.skip, model.skip)


def test_corrupt_and_truncated_files_are_refused(tmp_path):
    path = tmp_path / "m.wmk"
    random_model(4, 2, (8,)).save(path)
    blob = path.read_bytes()
    cases = {"truncated": blob[:-5], "header_cut": blob[:20], "flipped": blob[:-3] + bytes([blob[-3] ^ 0xFF]) + blob[-2:],
             "magic": b"XXXX" + blob[4:], "empty": b""}
    for name, data in cases.items():
        bad = tmp_path / f"{name}.wmk"
        bad.write_bytes(data)
        with pytest.raises(wmk.ModelFileError):
            wmk.MLPWorldModel.load(bad)


def _params(D=4, A=2, H=8):
    return [torch.randn(D + A, H), torch.randn(H, D)], [torch.randn(H), torch.randn(D)]


@pytest.mark.parametrize("mutate,match", [
    (lambda w, b: (w[:1], b[:1]), "weights must hold"),
    (lambda w, b: (w, b[:1]), "biases must hold"),
    (lambda w, b: ([w[0], torch.randn(7, 4)], b), r"weights\[1\] must have 8 rows"),
    (lambda w, b: (w, [torch.randn(9), b[1]]), r"biases\[0\] must have shape"),
    (lambda w, b: ([w[0].double(), w[1]], b), r"biases\[0\] is torch.float32 on cpu, but weights\[0\] is torch.float64"),
    (lambda w, b: ([w[0], w[1] * float("nan")], b), r"weights\[1\] contains NaN"),
    (lambda w, b: ([torch.randn(4, 8), w[1]], b), "A >= 1"),
    (lambda w, b: ([torch.randn(6, 0), torch.randn(0, 4)], [torch.randn(0), b[1]]), r"weights\[0\] must not be empty"),
    (lambda w, b: (w * 3, b * 3), "weights must hold"),
    (lambda w, b: ([t.to("meta") for t in w], [t.to("meta") for t in b]), r"weights\[0\] is on the meta device"),
    (lambda w, b: (w, [b[0], b[1].to("meta")]), r"biases\[1\] is on the meta device"),
])
def test_bad_parameters_name_the_argument(mutate, match):
    w, b = mutate(*_params())
    with pytest.raises((ValueError, TypeError), match=match):
        wmk.MLPWorldModel(w, b)


def test_a_model_moved_to_the_meta_device_is_refused():
    model = wmk.MLPWorldModel(*_params())
    with pytest.raises(ValueError, match=r"weights\[0\] is on the meta device, which holds no values"):
        model.to("meta")


def test_bad_activation_and_skip():
    w, b = _params()
    with pytest.raises(ValueError, match="activation"):
        wmk.MLPWorldModel(w, b, activation="softplus")
    with pytest.raises(ValueError, match="skip must have shape"):
        wmk.MLPWorldModel(w, b, skip=torch.eye(3))
    with pytest.raises(ValueError, match="exact erf"):
        wmk.MLPWorldModel.from_module(torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.GELU(), torch.nn.Linear(8, 4)))


def test_to_takes_a_dtype_or_a_device_and_a_dtype_like_torch():
    model = wmk.MLPWorldModel(*_params())
    for moved in (model.to(torch.float32), model.to("cpu", torch.float32), model.to(dtype=torch.float32)):
        assert moved.dtype == torch.float32 and moved.device == torch.device("cpu")
        assert all(torch.equal(m, w.float()) for m, w in zip(moved.weights, model.weights))
    with pytest.raises(TypeError, match="two dtypes"):
        model.to(torch.float32, torch.float64)
