"""Model files: bit-exact version 2 round trips, version 1 compatibility, and the fast subset of
the file fuzzer (tests/fuzz_model_file.py runs it at scale)."""
import glob
import io
import json
import os
import random
import struct
import time
import tracemalloc

import pytest
import torch

import fuzz_model_file as fuzz
import wmkernels as wmk
from helpers import random_model
from wmkernels import activations, model_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _bits(t):
    return t.contiguous().view(torch.uint8)


def _named(model):
    named = [(f"weights.{l}", w) for l, w in enumerate(model.weights)]
    named += [(f"biases.{l}", b) for l, b in enumerate(model.biases)]
    return named + ([("skip", model.skip)] if model.skip is not None else [])


def assert_same_model(loaded, model):
    assert (loaded.activation, loaded.dtype) == (model.activation, model.dtype)
    assert [n for n, _ in _named(loaded)] == [n for n, _ in _named(model)]
    for (name, a), (_, b) in zip(_named(loaded), _named(model)):
        assert a.shape == b.shape and torch.equal(_bits(a), _bits(b)), name


def _model(activation, skip, dtype, layers, seed):
    rng = random.Random(seed)
    widths = tuple(rng.choice([1, 3, 5, 7, 9, 13]) for _ in range(layers))
    model = random_model(rng.randint(1, 6), rng.randint(1, 4), widths, activation, skip, dtype,
                         seed=rng.randrange(1 << 31))
    model.biases[0][0] = -0.0  # the sign of zero must survive too
    return model


def _small_file():
    model = random_model(2, 1, (3,), "silu", "matrix", torch.float16, seed=3)
    model.metadata = {"env": "x"}
    return fuzz.save_bytes(model)


SMALL = _small_file()
CRAFTED = fuzz.crafted_cases(SMALL)


@pytest.fixture
def loader(tmp_path):
    with open(tmp_path / "case.wmk", "w+b") as file:
        yield fuzz.Loader(file)


# round trips -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", fuzz.DTYPES, ids=str)
@pytest.mark.parametrize("skip", ["identity", "matrix", "zero"])
@pytest.mark.parametrize("activation", activations.NAMES)
def test_v2_round_trip_is_bit_exact_and_follows_the_format(tmp_path, activation, skip, dtype):
    for layers in range(1, 5):
        model = _model(activation, skip, dtype, layers, seed=f"{activation}-{skip}-{dtype}-{layers}")
        model.metadata = {"env": "PushT", "layout": ["x", "y"], "std": [0.5, 1e-30], "n": layers, "ok": None}
        path = tmp_path / f"{layers}.wmk"
        model.save(path)
        loaded = wmk.MLPWorldModel.load(path)
        assert_same_model(loaded, model)
        assert loaded.metadata == model.metadata
        header, payload = fuzz.unpack_v2(path.read_bytes())  # independent decoder
        assert (header["version"], header["activation"], header["dtype"]) == (2, activation, str(dtype)[6:])
        assert header["skip"] == ("identity" if skip == "identity" else "matrix")
        for e, (name, t) in zip(header["tensors"], _named(model)):
            assert (e["name"], e["shape"]) == (name, list(t.shape))
            assert payload[e["offset"]:e["offset"] + e["nbytes"]] == bytes(_bits(t).flatten().tolist())


def test_round_trip_through_file_objects_and_devices():
    model = _model("elu", "matrix", torch.float32, 3, seed=5)
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    loaded = wmk.MLPWorldModel.load(buf, device="cpu")
    assert_same_model(loaded, model)
    assert loaded.device == torch.device("cpu") and loaded.metadata == {}


@pytest.mark.parametrize("version", [1, 2])
def test_max_bytes_limits_the_whole_file(version):
    model = _model("relu", "identity", torch.float32, 2, seed=6)
    blob = fuzz.write_v1(model) if version == 1 else fuzz.save_bytes(model)
    assert_same_model(wmk.MLPWorldModel.load(io.BytesIO(blob), max_bytes=len(blob)), model)
    with pytest.raises(wmk.ModelFileError, match=f"declares {len(blob)} bytes, more than max_bytes={len(blob) - 1}"):
        wmk.MLPWorldModel.load(io.BytesIO(blob), max_bytes=len(blob) - 1)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4GiB"])
def test_bad_max_bytes_is_named(bad):
    with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
        wmk.MLPWorldModel.load(io.BytesIO(SMALL), max_bytes=bad)


# version 1 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", fuzz.DTYPES, ids=str)
@pytest.mark.parametrize("skip", ["identity", "matrix"])
def test_v1_files_still_load(dtype, skip):
    model = _model("gelu", skip, dtype, 2, seed=f"v1-{skip}-{dtype}")
    blob = fuzz.write_v1(model)
    assert model_file.read(io.BytesIO(blob)).version == 1
    loaded = wmk.MLPWorldModel.load(io.BytesIO(blob))
    assert_same_model(loaded, model)
    assert loaded.metadata == {}
    assert_same_model(wmk.MLPWorldModel.load(io.BytesIO(fuzz.save_bytes(loaded))), model)


def test_shipped_models_load():
    paths = sorted(glob.glob(os.path.join(ROOT, "models", "*.wmk")))
    if not paths:
        pytest.skip("no models/*.wmk in this checkout")
    for path in paths:
        contents = model_file.read(path)
        model = wmk.MLPWorldModel.load(path)
        assert contents.version in (1, 2) and model.state_dim >= 1, path


# metadata --------------------------------------------------------------------------------------
@pytest.mark.parametrize("metadata,error,match", [
    ([("env", "x")], TypeError, "metadata must be a dict"),
    ({1: "x"}, TypeError, "metadata keys must be str"),
    ({"a": {2: 1}}, TypeError, r"metadata\['a'\] keys must be str"),
    ({"a": float("nan")}, ValueError, r"metadata\['a'\] must be finite"),
    ({"a": [1, float("inf")]}, ValueError, r"metadata\['a'\]\[1\] must be finite"),
    ({"a": torch.zeros(2)}, TypeError, r"metadata\['a'\] must be a JSON value"),
    ({"a": {1, 2}}, TypeError, r"metadata\['a'\] must be a JSON value"),
    ({"a": json.loads("[" * 70 + "]" * 70)}, ValueError, "nests deeper than 64"),
])
def test_bad_metadata_is_named(metadata, error, match):
    model = _model("relu", "identity", torch.float32, 1, seed=7)
    with pytest.raises(error, match=match):
        wmk.MLPWorldModel(model.weights, model.biases, metadata=metadata)


def test_metadata_is_normalised_carried_and_saved():
    model = _model("tanh", "identity", torch.float64, 1, seed=8)
    model = wmk.MLPWorldModel(model.weights, model.biases, "tanh", metadata={"shape": (3, 4), "nested": {"k": [True]}})
    assert model.metadata == {"shape": [3, 4], "nested": {"k": [True]}}
    assert model.to(dtype=torch.float32).metadata == model.metadata
    model.metadata["env"] = "Wall"
    assert wmk.MLPWorldModel.load(io.BytesIO(fuzz.save_bytes(model))).metadata["env"] == "Wall"
    model.metadata["bad"] = object()
    with pytest.raises(TypeError, match=r"metadata\['bad'\] must be a JSON value"):
        model.save(io.BytesIO())


def test_v2_file_without_metadata_loads_with_empty_metadata():
    header, payload = fuzz.unpack_v2(SMALL)
    del header["metadata"]
    assert wmk.MLPWorldModel.load(io.BytesIO(fuzz.pack_v2(header, payload))).metadata == {}


# fuzzing ---------------------------------------------------------------------------------------
def test_the_fuzzer_reports_what_loads_and_wrong_messages(loader):
    intact = loader.failures("intact", SMALL)
    assert len(intact) == 2 and all("): loaded MLPWorldModel(" in f for f in intact)
    failures = loader.failures("magic", b"XXXX" + SMALL[4:], match="checksum")
    assert len(failures) == 2 and all("does not match 'checksum'" in f for f in failures)


def test_every_single_bit_flip_is_refused(loader):
    assert len(SMALL) < 600
    cases = list(fuzz.bit_flips(SMALL))
    assert len(cases) == 8 * len(SMALL)
    assert [f for label, bad in cases for f in loader.failures(label, bad)] == []


@pytest.mark.parametrize("version", [1, 2])
def test_every_truncation_is_refused(loader, version):
    blob = SMALL if version == 2 else fuzz.write_v1(wmk.MLPWorldModel.load(io.BytesIO(SMALL)))
    assert [f for label, bad in fuzz.truncations(blob) for f in loader.failures(label, bad)] == []


def test_fuzzer_on_a_random_model(loader):
    cases, failures = fuzz.fuzz([2], loader, double=300, overwrites=300, report=lambda line: None)
    assert failures == []
    assert cases["v2 bit flips"] == 8 * cases["v2 truncations"] and cases["v2 double flips"] == 300


@pytest.mark.parametrize("label,blob,match", CRAFTED, ids=[label for label, _, _ in CRAFTED])
def test_crafted_file_is_refused_naming_the_problem(loader, label, blob, match):
    assert loader.failures(label, blob, match) == []


# non-model files -------------------------------------------------------------------------------
class CountingFile:
    """A regular file that counts the bytes read from it."""

    def __init__(self, path):
        self.file = open(path, "rb", buffering=0)
        self.name = str(path)
        self.bytes_read = 0

    def read(self, n):
        data = self.file.read(n)
        self.bytes_read += len(data)
        return data

    def fileno(self):
        return self.file.fileno()

    def tell(self):
        return self.file.tell()


def _refused_quickly(source, match, max_bytes=model_file.DEFAULT_MAX_BYTES):
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(wmk.ModelFileError, match=match):
            wmk.MLPWorldModel.load(source, max_bytes=max_bytes)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5 and peak < 1 << 20, (elapsed, peak)


@pytest.mark.parametrize("head,match", [
    (b"", "not a wmkernels model file"),
    (struct.pack("<4sQQ", b"WMK2", 1 << 30, 0), "exceeds MAX_HEADER_BYTES"),
    (struct.pack("<4sQQ", b"WMK2", 100, (1 << 30) - 124), "more than max_bytes=1048576"),
    (struct.pack("<4sQQ", b"WMK2", 100, 1 << 31), "the file has 1073741824 bytes but declares"),
    (struct.pack("<4sQ", b"WMK1", 1 << 40), "exceeds MAX_HEADER_BYTES"),
])
def test_large_sparse_file_is_refused_from_its_prefix(tmp_path, head, match):
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(1 << 30)  # sparse: 1 GiB of zeros after the prefix
    max_bytes = 1 << 20 if "max_bytes" in match else model_file.DEFAULT_MAX_BYTES
    source = CountingFile(path)
    _refused_quickly(source, match, max_bytes)
    source.file.close()
    assert source.bytes_read <= 20
    _refused_quickly(path, match, max_bytes)


def test_random_bytes_and_dev_zero_are_refused_at_once(tmp_path):
    path = tmp_path / "noise.bin"
    path.write_bytes(b"\x89PNG" + os.urandom(4096))
    _refused_quickly(path, r"not a wmkernels model file \(starts with b'\\x89PNG'")
    if os.path.exists("/dev/zero"):
        _refused_quickly("/dev/zero", "not a wmkernels model file")


def test_stream_declaring_a_huge_payload_is_refused_without_allocating_it():
    prefix = struct.pack("<4sQQ", b"WMK2", 2, 1 << 31)
    _refused_quickly(io.BytesIO(prefix + b"{}"), "truncated: the payload ends after 0 of 2147483648 bytes")
