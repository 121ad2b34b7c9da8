"""Model file fuzzer: corrupted, truncated and crafted .wmk files must raise ModelFileError.

    python tests/fuzz_model_file.py N [--seed S]

fuzzes N random small models (random activation, skip, dtype, 1-4 hidden layers, odd sizes,
metadata): every single-bit flip, every truncation, a 2- to 32-bit burst from every bit, random
double flips and byte overwrites of its version 2 file; every truncation of its version 1 file;
and the crafted headers of crafted_cases(). Each case loads from memory and from a regular file.
A failure is a case that loads, raises anything but ModelFileError, or (crafted) raises with a
message that does not name the problem. Prints the case and failure counts; exits 1 on failures.

The packers here are written from docs/model-format.md, independently
of its writer; write_v1 is the version 1 writer as it was.
"""
import argparse
import copy
import io
import json
import os
import random
import re
import struct
import sys
import tempfile
import zlib

import torch

import wmkernels as wmk
from wmkernels import activations

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import random_model  # noqa: E402

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


# packing -------------------------------------------------------------------------------------
def pack_v2(header, payload: bytes, *, header_len=None, payload_len=None, trailing=b"") -> bytes:
    """A version 2 file with a correct CRC32; header is a JSON value or raw bytes."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    prefix = struct.pack("<4sQQ", b"WMK2", len(raw) if header_len is None else header_len,
                         len(payload) if payload_len is None else payload_len)
    body = prefix + raw + bytes(payload)
    return body + struct.pack("<I", zlib.crc32(body)) + trailing


def unpack_v2(blob: bytes):
    """(header dict, payload bytes) of a valid version 2 file, checking its lengths and CRC32."""
    magic, header_len, payload_len = struct.unpack_from("<4sQQ", blob)
    assert magic == b"WMK2" and len(blob) == 20 + header_len + payload_len + 4
    assert struct.unpack_from("<I", blob, len(blob) - 4)[0] == zlib.crc32(blob[:-4])
    return json.loads(blob[20:20 + header_len]), blob[20 + header_len:-4]


def pack_v1(header, payload: bytes) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return b"WMK1" + struct.pack("<Q", len(raw)) + raw + bytes(payload)


def unpack_v1(blob: bytes):
    (header_len,) = struct.unpack_from("<Q", blob, 4)
    return json.loads(blob[12:12 + header_len]), blob[12 + header_len:]


def write_v1(model) -> bytes:
    """The version 1 file of model, as the version 1 writer made it."""
    named = [(f"weights.{l}", w) for l, w in enumerate(model.weights)]
    named += [(f"biases.{l}", b) for l, b in enumerate(model.biases)]
    if model.skip is not None:
        named.append(("skip", model.skip))
    entries, chunks, offset = [], [], 0
    for name, t in named:
        data = t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes()
        entries.append({"name": name, "shape": list(t.shape), "offset": offset, "nbytes": len(data)})
        chunks.append(data)
        offset += len(data)
    payload = b"".join(chunks)
    header = json.dumps({"format": "wmkernels.MLPWorldModel", "version": 1,
                         "activation": model.activation, "dtype": str(model.dtype).replace("torch.", ""),
                         "tensors": entries, "payload_bytes": len(payload),
                         "crc32": zlib.crc32(payload)}).encode()
    return b"WMK1" + struct.pack("<Q", len(header)) + header + payload


def save_bytes(model) -> bytes:
    buf = io.BytesIO()
    model.save(buf)
    return buf.getvalue()


def fuzz_model(seed: int):
    """A random small model with metadata: odd sizes, any activation, skip, dtype, 1-4 layers."""
    rng = random.Random(seed)
    widths = tuple(rng.randint(1, 7) for _ in range(rng.randint(1, 4)))
    model = random_model(rng.randint(1, 5), rng.randint(1, 3), widths, rng.choice(activations.NAMES),
                         rng.choice(["identity", "matrix", "zero"]), rng.choice(DTYPES), seed=seed)
    model.metadata = rng.choice([{}, {"env": "PointMaze", "std": [rng.random() for _ in range(3)]}])
    return model


# cases ---------------------------------------------------------------------------------------
def bit_flips(blob: bytes):
    for bit in range(8 * len(blob)):
        bad = bytearray(blob)
        bad[bit // 8] ^= 1 << bit % 8
        yield f"flip bit {bit}", bytes(bad)


def bursts(blob: bytes, rng: random.Random):
    """From every bit, a run of 2 to 32 bits inverted (CRC32 detects every burst up to 32 bits)."""
    whole = int.from_bytes(blob, "little")
    for start in range(8 * len(blob) - 1):
        length = rng.randint(2, min(32, 8 * len(blob) - start))
        yield f"burst of {length} bits at bit {start}", (whole ^ ((1 << length) - 1) << start).to_bytes(len(blob), "little")


def double_flips(blob: bytes, rng: random.Random, count: int):
    for _ in range(count):
        a, b = rng.sample(range(8 * len(blob)), 2)
        bad = bytearray(blob)
        bad[a // 8] ^= 1 << a % 8
        bad[b // 8] ^= 1 << b % 8
        yield f"flip bits {a} and {b}", bytes(bad)


def byte_overwrites(blob: bytes, rng: random.Random, count: int):
    for _ in range(count):
        bad = bytearray(blob)
        for i in rng.sample(range(len(blob)), rng.randint(1, 4)):
            bad[i] = rng.choice([v for v in range(256) if v != bad[i]])
        yield "overwrite bytes", bytes(bad)


def truncations(blob: bytes):
    for n in range(len(blob)):
        yield f"truncate to {n} bytes", blob[:n]


def crafted_cases(blob: bytes):
    """(label, file, regex its ModelFileError must match) for a version 2 file whose model has
    a skip matrix and at least one hidden layer."""
    header, payload = unpack_v2(blob)
    names = [e["name"] for e in header["tensors"]]
    w1, b0, last = names.index("weights.1"), names.index("biases.0"), len(names) - 1

    def edit(change):
        h = copy.deepcopy(header)
        change(h)
        return pack_v2(h, payload)

    def entry(i, key, value):
        return edit(lambda h: h["tensors"][i].__setitem__(key, value))

    def raw(text: str):
        return pack_v2(text.encode(), payload)

    text = json.dumps(header)
    dtype = getattr(torch, header["dtype"])
    itemsize = dtype.itemsize
    nan = bytes(torch.tensor([float("nan")], dtype=dtype).view(torch.uint8).tolist()) + payload[itemsize:]
    no_skip = copy.deepcopy(header)
    no_skip["tensors"] = [e for e in no_skip["tensors"] if e["name"] != "skip"]
    skip_offset = header["tensors"][names.index("skip")]["offset"]
    with_nan_metadata = copy.deepcopy(header)
    with_nan_metadata["metadata"] = {"x": "NAN"}
    first_shape = header["tensors"][0]["shape"]
    v1_header, v1_payload = unpack_v1(write_v1(wmk.MLPWorldModel.load(io.BytesIO(blob))))

    def v1(change):
        h = copy.deepcopy(v1_header)
        change(h)
        return pack_v1(h, v1_payload)

    return [
        ("bad magic", b"XXXX" + blob[4:], "not a wmkernels model file"),
        ("future version", b"WMK3" + blob[4:], "unsupported model file version"),
        ("empty file", b"", "too short"),
        ("huge header length", pack_v2(header, payload, header_len=1 << 62), "exceeds MAX_HEADER_BYTES"),
        ("huge payload length", pack_v2(header, payload, payload_len=1 << 40), "more than max_bytes"),
        ("payload length too long", pack_v2(header, payload, payload_len=len(payload) + 8), "truncated|declares"),
        ("trailing bytes", blob + b"\0", "trailing bytes|declares"),
        ("trailing model", blob + blob, "trailing bytes|declares"),
        ("JSON array header", pack_v2([header], payload), "header must be a JSON object, got a JSON array"),
        ("JSON string header", pack_v2("wmk", payload), "header must be a JSON object, got a JSON string"),
        ("non-UTF-8 header", pack_v2(text.encode().replace(b'"format"', b'"\xffformat"'), payload),
         "header is not UTF-8"),
        ("UTF-16 header", pack_v2(text.encode("utf-16"), payload), "header is not UTF-8"),
        ("cut JSON", raw(text[:-1]), "header is not valid JSON"),
        ("empty header", raw(""), "header is not valid JSON"),
        ("duplicate key", raw(text.replace('"activation":', '"activation": "relu", "activation":')),
         "duplicate key 'activation'"),
        ("NaN in metadata", raw(json.dumps(with_nan_metadata).replace('"NAN"', "NaN")), "NaN is not a JSON number"),
        ("metadata nested 100 deep", edit(lambda h: h.__setitem__("metadata", {"x": json.loads("[" * 100 + "]" * 100)})),
         "nests deeper"),
        ("header nested 100000 deep", raw("[" * 100000 + "]" * 100000), "not valid JSON|JSON object"),
        ("5000-digit offset", raw(text.replace('"offset": 0', '"offset": ' + "9" * 5000, 1)), "not valid JSON.*digits"),
        ("metadata array", edit(lambda h: h.__setitem__("metadata", [1])), "metadata must be a JSON object"),
        ("missing tensors", edit(lambda h: h.pop("tensors")), "lacks key.*'tensors'"),
        ("missing skip", edit(lambda h: h.pop("skip")), "lacks key.*'skip'"),
        ("unknown key", edit(lambda h: h.__setitem__("extra", 1)), "unknown key.*'extra'"),
        ("v1 key in v2", edit(lambda h: h.__setitem__("crc32", 0)), "unknown key.*'crc32'"),
        ("format", edit(lambda h: h.__setitem__("format", "safetensors")), "format must be"),
        ("version 1 under WMK2", edit(lambda h: h.__setitem__("version", 1)), "version must be 2"),
        ("version string", edit(lambda h: h.__setitem__("version", "2")), "version must be 2"),
        ("unknown activation", edit(lambda h: h.__setitem__("activation", "softplus")), "activation must be one of"),
        ("activation number", edit(lambda h: h.__setitem__("activation", 0)), "activation must be one of"),
        ("unknown skip", edit(lambda h: h.__setitem__("skip", "diagonal")), "skip must be one of"),
        ("identity skip with matrix", edit(lambda h: h.__setitem__("skip", "identity")), r"unexpected \['skip'\]"),
        ("matrix skip without matrix", pack_v2(no_skip, payload[:skip_offset]),
         r"missing \['skip'\]"),
        ("unknown dtype", edit(lambda h: h.__setitem__("dtype", "int8")), "dtype must be one of"),
        ("wider dtype", edit(lambda h: h.__setitem__("dtype", "float64" if h["dtype"] != "float64" else "float16")),
         "needs .* bytes, nbytes says"),
        ("tensors object", edit(lambda h: h.__setitem__("tensors", {"weights.0": h["tensors"][0]})),
         "tensors must be a JSON array"),
        ("entry array", edit(lambda h: h["tensors"].__setitem__(0, list(h["tensors"][0].values()))),
         r"tensors\[0\] must be a JSON object"),
        ("entry missing nbytes", edit(lambda h: h["tensors"][0].pop("nbytes")), "exactly the keys"),
        ("entry extra key", entry(0, "dtype", "float32"), "exactly the keys"),
        ("name number", entry(0, "name", 0), "name must be a string"),
        ("duplicate name", entry(w1, "name", "weights.0"), "a second tensor named 'weights.0'"),
        ("duplicate entry", edit(lambda h: h["tensors"].append(dict(h["tensors"][0]))),
         "a second tensor named 'weights.0'"),
        ("unknown tensor", entry(last, "name", "weights.9"), r"unexpected \['weights.9'\]"),
        ("missing tensor", edit(lambda h: h["tensors"].pop(b0)), r"missing \['biases.0'\]"),
        ("negative offset", entry(w1, "offset", -header["tensors"][w1]["nbytes"]),
         "offset must be a non-negative integer"),
        ("offset float", entry(w1, "offset", float(header["tensors"][w1]["offset"])),
         "offset must be a non-negative integer"),
        ("offset bool", entry(0, "offset", False), "offset must be a non-negative integer"),
        ("offset + 1 element", entry(w1, "offset", header["tensors"][w1]["offset"] + itemsize),
         "belong to no tensor|overlap"),
        ("offset - 1 element", entry(w1, "offset", header["tensors"][w1]["offset"] - itemsize), "overlap"),
        ("last offset + 1 element", entry(last, "offset", header["tensors"][last]["offset"] + itemsize),
         "run past the end"),
        ("offset past the payload", entry(w1, "offset", 10 ** 12), "run past the end"),
        ("shared offsets", entry(b0, "offset", 0), "overlap"),
        ("gap after the tensors", pack_v2(header, payload + bytes(8)), "belong to no tensor"),
        ("nbytes + 1 element", entry(0, "nbytes", header["tensors"][0]["nbytes"] + itemsize),
         "needs .* bytes, nbytes says"),
        ("nbytes negative", entry(0, "nbytes", -1), "nbytes must be a non-negative integer"),
        ("shape [-1, 4]", entry(0, "shape", [-1, 4]), "shape must be a list of 2 positive integers"),
        ("shape [0, 4]", entry(0, "shape", [0, 4]), "shape must be a list of 2 positive integers"),
        ("shape []", entry(0, "shape", []), "shape must be a list of 2 positive integers"),
        ("shape 3-D", entry(0, "shape", header["tensors"][0]["shape"] + [1]), "shape must be a list of 2 positive"),
        ("bias 2-D", entry(b0, "shape", header["tensors"][b0]["shape"] + [1]), "shape must be a list of 1 positive"),
        ("shape floats", entry(0, "shape", [float(d) for d in header["tensors"][0]["shape"]]),
         "shape must be a list of 2 positive integers"),
        ("shape string", entry(0, "shape", "5x7"), "shape must be a list of 2 positive integers"),
        ("shape transposed", entry(0, "shape", first_shape[::-1]) if first_shape[0] != first_shape[1]
         else entry(0, "shape", [first_shape[0] * first_shape[1], 1]), r"invalid model: (weights|biases)\[\d\] must have"),
        ("NaN weight", pack_v2(header, nan), r"invalid model: weights\[0\] contains NaN"),
        ("v1 JSON array header", pack_v1([v1_header], v1_payload), "header must be a JSON object"),
        ("v1 negative offset", v1(lambda h: h["tensors"][1].__setitem__("offset", -4)),
         "offset must be a non-negative integer"),
        ("v1 huge payload_bytes", v1(lambda h: h.__setitem__("payload_bytes", 1 << 40)), "more than max_bytes"),
        ("v1 payload_bytes short", v1(lambda h: h.__setitem__("payload_bytes", len(v1_payload) - 1)),
         "trailing bytes|declares"),
        ("v1 missing crc32", v1(lambda h: h.pop("crc32")), "lacks key.*'crc32'"),
        ("v1 bad crc32", v1(lambda h: h.__setitem__("crc32", h["crc32"] ^ 1)), "payload checksum mismatch"),
        ("v1 activation", v1(lambda h: h.__setitem__("activation", "softplus")), "activation must be one of"),
        ("v1 shape [-1, 4]", v1(lambda h: h["tensors"][0].__setitem__("shape", [-1, 4])),
         "shape must be a list of 2 positive integers"),
    ]


# running -------------------------------------------------------------------------------------
class Loader:
    """Loads a file's bytes from memory and from a regular file; returns what went wrong, if anything."""

    def __init__(self, file):
        self.file = file  # a regular file opened "w+b", rewritten for every case

    def failures(self, label: str, blob: bytes, match: str = None) -> list:
        self.file.seek(0)
        self.file.truncate()
        self.file.write(blob)
        self.file.flush()
        self.file.seek(0)
        return [f"{label} ({how}): {problem}" for how, source in (("memory", io.BytesIO(blob)), ("file", self.file))
                for problem in [_problem(source, match)] if problem]


def _problem(source, match):
    try:
        model = wmk.MLPWorldModel.load(source)
    except wmk.ModelFileError as err:
        return None if match is None or re.search(match, str(err)) else f"message {str(err)!r} does not match {match!r}"
    except Exception as err:  # noqa: BLE001 - any other exception is what the fuzzer looks for
        return f"raised {type(err).__name__}: {err}"
    return f"loaded {model!r}"


def fuzz(seeds, loader: Loader, double: int = 2000, overwrites: int = 2000, report=print) -> tuple:
    """(cases, failures) over the models fuzz_model(seed) for seed in seeds."""
    cases, failures = {}, []
    for seed in seeds:
        model = fuzz_model(seed)
        blob, v1_blob = save_bytes(model), write_v1(model)
        rng = random.Random(seed)
        groups = {"v2 bit flips": bit_flips(blob), "v2 truncations": truncations(blob),
                  "v2 bursts": bursts(blob, rng),
                  "v2 double flips": double_flips(blob, rng, double),
                  "v2 byte overwrites": byte_overwrites(blob, rng, overwrites),
                  "v1 truncations": truncations(v1_blob)}
        for group, generated in groups.items():
            for label, bad in generated:
                cases[group] = cases.get(group, 0) + 1
                failures += loader.failures(f"seed {seed} {group}: {label}", bad)
        if model.skip is not None and model.metadata:
            for label, bad, match in crafted_cases(blob):
                cases["crafted"] = cases.get("crafted", 0) + 1
                failures += loader.failures(f"seed {seed} crafted: {label}", bad, match)
        for label, good in (("v2 intact", blob), ("v1 intact", v1_blob)):
            cases[label] = cases.get(label, 0) + 1
            if not _same(wmk.MLPWorldModel.load(io.BytesIO(good)), model, label.startswith("v2")):
                failures.append(f"seed {seed} {label}: loads a different model")
        report(f"seed {seed}: {len(blob)}-byte file, {sum(cases.values())} cases so far, {len(failures)} failures")
    return cases, failures


def _same(a, b, metadata: bool) -> bool:
    bits = lambda t: None if t is None else t.contiguous().view(torch.uint8)
    tensors = lambda m: [bits(t) for t in m.weights + m.biases + [m.skip]]
    return (a.activation == b.activation and (a.metadata == b.metadata or not metadata) and
            all(x is y or x is not None and y is not None and torch.equal(x, y) for x, y in zip(tensors(a), tensors(b))))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int, help="number of random models to fuzz")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    args = parser.parse_args(argv)
    with tempfile.TemporaryFile() as file:
        cases, failures = fuzz(range(args.seed, args.seed + args.count), Loader(file))
    for failure in failures[:50]:
        print("FAIL", failure)
    for group, n in cases.items():
        print(f"{group:20s} {n:9d} cases")
    print(f"{'total':20s} {sum(cases.values()):9d} cases, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
