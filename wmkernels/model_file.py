"""Reading and writing MLPWorldModel files (.wmk); docs/model-format.md is the specification.

save() writes version 2, little-endian throughout:

    b"WMK2" | n (uint64) | p (uint64) | header (n bytes) | payload (p bytes) | CRC32 (uint32)

The header is a UTF-8 JSON object {"format", "version", "activation", "skip", "dtype", "tensors",
optional "metadata"}; each tensor entry {"name", "shape", "offset", "nbytes"} gives a byte range
of the payload, and the ranges tile it exactly. The CRC32 covers every byte before it, so any
single-bit flip is detected. load() also reads version 1 (b"WMK1" | n | header | payload, a
CRC32 of the payload only in the header). It checks the magic and the declared lengths against
MAX_HEADER_BYTES, max_bytes and a regular file's size before reading further, and raises
ModelFileError naming the file and the problem for anything but a valid model. Loading never
unpickles.
"""
import json
import math
import os
import stat
import struct
import zlib
from dataclasses import dataclass

import torch

from . import activations

FORMAT = "wmkernels.MLPWorldModel"
VERSION = 2
MAX_HEADER_BYTES = 16 << 20
DEFAULT_MAX_BYTES = 4 << 30
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16,
          "float32": torch.float32, "float64": torch.float64}
SKIPS = ("identity", "matrix")

_MAGICS = {b"WMK1": 1, b"WMK2": 2}
_PREFIX = {1: struct.Struct("<4sQ"), 2: struct.Struct("<4sQQ")}
_CRC = struct.Struct("<I")
_KEYS = {1: ({"format", "version", "activation", "dtype", "tensors", "payload_bytes", "crc32"}, set()),
         2: ({"format", "version", "activation", "skip", "dtype", "tensors"}, {"metadata"})}
_ENTRY_KEYS = {"name", "shape", "offset", "nbytes"}
_CHUNK = 1 << 24
_MAX_DEPTH = 64


class ModelFileError(ValueError):
    """A model file that is not a valid wmkernels model (corrupt, truncated, wrong format)."""


class _Malformed(Exception):
    """What is wrong with the file; read() prefixes the file's name."""


@dataclass
class Contents:
    """A model file's contents; tensors are CPU views of one payload buffer."""
    name: str
    version: int
    activation: str
    weights: list
    biases: list
    skip: "torch.Tensor | None"
    metadata: dict


# writing -------------------------------------------------------------------------------------
def write(path, activation: str, named_tensors, metadata: dict) -> None:
    """Write (name, tensor) pairs of one dtype, the activation and metadata as a version 2 file
    to path (a path or a binary file object).

    named_tensors: [("weights.0", W_1), ..., ("biases.0", b_1), ..., optionally ("skip", S)]."""
    metadata = check_metadata(metadata)
    dtype = named_tensors[0][1].dtype
    entries, offset = [], 0
    for name, t in named_tensors:
        nbytes = t.numel() * t.element_size()
        entries.append({"name": name, "shape": list(t.shape), "offset": offset, "nbytes": nbytes})
        offset += nbytes
    payload = bytearray(offset)
    flat = torch.frombuffer(payload, dtype=torch.uint8)
    for (_, t), e in zip(named_tensors, entries):
        flat[e["offset"]:e["offset"] + e["nbytes"]].copy_(t.detach().contiguous().view(-1).view(torch.uint8))
    skip = "matrix" if any(name == "skip" for name, _ in named_tensors) else "identity"
    header = json.dumps({"format": FORMAT, "version": VERSION, "activation": activation, "skip": skip,
                         "dtype": str(dtype).replace("torch.", ""), "tensors": entries,
                         "metadata": metadata}, allow_nan=False).encode()
    prefix = _PREFIX[2].pack(b"WMK2", len(header), len(payload))
    crc = zlib.crc32(payload, zlib.crc32(header, zlib.crc32(prefix)))
    if hasattr(path, "write"):
        _write_parts(path, prefix, header, payload, _CRC.pack(crc))
    else:
        with open(path, "wb") as f:
            _write_parts(f, prefix, header, payload, _CRC.pack(crc))


def _write_parts(f, *parts) -> None:
    for part in parts:
        f.write(part)


def check_metadata(metadata) -> dict:
    """A normalised copy of metadata (a dict of str -> JSON values: None, bool, int, finite float,
    str, list/tuple, dict with str keys); raises TypeError or ValueError naming the bad entry."""
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict of str -> JSON values, got {type(metadata).__name__}")
    _check_json(metadata, "metadata", 0)
    return json.loads(json.dumps(metadata, allow_nan=False))


def _check_json(value, where: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise ValueError(f"metadata nests deeper than {_MAX_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} must be finite, got {value}")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where} keys must be str, got {k!r}")
            _check_json(v, f"{where}[{k!r}]", depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_json(v, f"{where}[{i}]", depth + 1)
    elif value is not None and not isinstance(value, (bool, int, float, str)):
        raise TypeError(f"{where} must be a JSON value (None, bool, int, float, str, list or dict), "
                        f"got {type(value).__name__}")


# reading -------------------------------------------------------------------------------------
def read(source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Contents:
    """The contents of a version 1 or 2 file; source is a path or a binary file object.

    Raises ModelFileError, naming the file and the problem, for anything but a valid model
    file of at most max_bytes bytes."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
    if hasattr(source, "read"):
        name = str(getattr(source, "name", f"<{type(source).__name__}>"))
        return _read_named(source, name, max_bytes)
    with open(source, "rb") as f:
        return _read_named(f, str(source), max_bytes)


def _read_named(f, name: str, max_bytes: int) -> Contents:
    try:
        return _read(f, name, max_bytes)
    except _Malformed as err:
        raise ModelFileError(f"{name}: {err}") from None


def _read(f, name: str, max_bytes: int) -> Contents:
    size = _regular_size(f)
    magic = _read_upto(f, 4)
    if len(magic) < 4:
        raise _Malformed(f"too short to be a wmkernels model file ({len(magic)} bytes)")
    if magic[:3] != b"WMK":
        raise _Malformed(f"not a wmkernels model file (starts with {magic[:8]!r}, expected b'WMK2' or b'WMK1')")
    if magic not in _MAGICS:
        raise _Malformed(f"unsupported model file version {magic!r} (this wmkernels reads b'WMK1' and b'WMK2')")
    version = _MAGICS[magic]
    prefix = magic + _read_exact(f, _PREFIX[version].size - 4, "the fixed prefix")
    _, header_len, *payload_len = _PREFIX[version].unpack(prefix)
    if header_len > MAX_HEADER_BYTES:
        raise _Malformed(f"declared header length {header_len} exceeds MAX_HEADER_BYTES ({MAX_HEADER_BYTES})")
    if version == 1:
        _check_total(len(prefix) + header_len, size, max_bytes, final=False)
        raw_header = _read_exact(f, header_len, "the header")
        header = _check_header(_parse_json(raw_header), 1)
        payload_len = header["payload_bytes"]
        _check_total(len(prefix) + header_len + payload_len, size, max_bytes, final=True)
        payload = _read_exact(f, payload_len, "the payload")
        _check_end(f)
        if zlib.crc32(payload) != header["crc32"]:
            raise _Malformed("payload checksum mismatch: the file is corrupt")
    else:
        payload_len = payload_len[0]
        _check_total(len(prefix) + header_len + payload_len + _CRC.size, size, max_bytes, final=True)
        raw_header = _read_exact(f, header_len, "the header")
        payload = _read_exact(f, payload_len, "the payload")
        (stored,) = _CRC.unpack(_read_exact(f, _CRC.size, "the checksum"))
        _check_end(f)
        if zlib.crc32(payload, zlib.crc32(raw_header, zlib.crc32(prefix))) != stored:
            raise _Malformed("checksum mismatch: the file is corrupt")
        header = _check_header(_parse_json(raw_header), 2)
    dtype = DTYPES[header["dtype"]]
    skip = header.get("skip", "matrix" if any(_is_skip(e) for e in header["tensors"]) else "identity")
    ranges = _check_tensors(header["tensors"], dtype, skip, payload_len)
    tensors = {n: torch.frombuffer(payload, dtype=dtype, count=nbytes // dtype.itemsize, offset=offset).reshape(shape)
               for n, (shape, offset, nbytes) in ranges.items()}
    layers = range(sum(n.startswith("weights.") for n in tensors))
    return Contents(name, version, header["activation"], [tensors[f"weights.{l}"] for l in layers],
                    [tensors[f"biases.{l}"] for l in layers], tensors.get("skip"), header.get("metadata", {}))


def _regular_size(f):
    """Bytes left in f when it is a regular file, else None (pipes, devices, in-memory streams)."""
    try:
        st = os.fstat(f.fileno())
        return st.st_size - f.tell() if stat.S_ISREG(st.st_mode) else None
    except (AttributeError, OSError, ValueError):
        return None


def _check_total(total: int, size, max_bytes: int, final: bool) -> None:
    if total > max_bytes:
        raise _Malformed(f"declares {total} bytes, more than max_bytes={max_bytes}")
    if size is not None and (total > size or final and total != size):
        raise _Malformed(f"the file has {size} bytes but declares {total}" if final else
                         f"truncated: the file has {size} bytes but declares at least {total}")


def _read_upto(f, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = f.read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _read_exact(f, n: int, what: str) -> bytearray:
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(min(n - len(buf), _CHUNK))
        if not chunk:
            raise _Malformed(f"truncated: {what} ends after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def _check_end(f) -> None:
    if f.read(1):
        raise _Malformed("trailing bytes after the end of the model")


# the header ----------------------------------------------------------------------------------
def _parse_json(raw: bytes):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _Malformed(f"header is not UTF-8 (byte {err.start}: {err.reason})") from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise _Malformed(f"header is not valid JSON: {err}") from None


def _unique_keys(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"duplicate key {k!r}")
        obj[k] = v
    return obj


def _no_constant(token):
    raise ValueError(f"{token} is not a JSON number")


def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}[type(value)]


def _is_int(value, low: int) -> bool:
    return type(value) is int and value >= low


def _check_header(header, version: int) -> dict:
    if not isinstance(header, dict):
        raise _Malformed(f"header must be a JSON object, got a JSON {_json_type(header)}")
    required, optional = _KEYS[version]
    missing = sorted(required - set(header))
    if missing:
        raise _Malformed(f"header lacks key(s) {', '.join(map(repr, missing))}")
    unknown = sorted(set(header) - required - optional)
    if unknown:
        raise _Malformed(f"header has unknown key(s) {', '.join(map(repr, unknown))}")
    if header["format"] != FORMAT:
        raise _Malformed(f"header format must be {FORMAT!r}, got {header['format']!r}")
    if header["version"] != version or type(header["version"]) is not int:
        raise _Malformed(f"header version must be {version} (as the magic says), got {header['version']!r}")
    _check_choice(header, "activation", activations.NAMES)
    _check_choice(header, "dtype", tuple(DTYPES))
    if version == 1:
        if not _is_int(header["payload_bytes"], 0):
            raise _Malformed(f"payload_bytes must be a non-negative integer, got {header['payload_bytes']!r}")
        if not _is_int(header["crc32"], 0) or header["crc32"] >= 1 << 32:
            raise _Malformed(f"crc32 must be an integer in [0, 2**32), got {header['crc32']!r}")
    else:
        _check_choice(header, "skip", SKIPS)
        if not isinstance(header.get("metadata", {}), dict):
            raise _Malformed(f"metadata must be a JSON object, got a JSON {_json_type(header['metadata'])}")
        try:
            _check_json(header.get("metadata", {}), "metadata", 0)
        except ValueError as err:
            raise _Malformed(str(err)) from None
    if not isinstance(header["tensors"], list):
        raise _Malformed(f"tensors must be a JSON array, got a JSON {_json_type(header['tensors'])}")
    return header


def _check_choice(header: dict, key: str, choices: tuple) -> None:
    if not isinstance(header[key], str) or header[key] not in choices:
        raise _Malformed(f"{key} must be one of {choices}, got {header[key]!r}")


def _is_skip(entry) -> bool:
    return isinstance(entry, dict) and entry.get("name") == "skip"


def _check_tensors(entries: list, dtype: torch.dtype, skip: str, payload_len: int) -> dict:
    """{name: (shape, offset, nbytes)} once the entries name exactly the model's tensors and
    their byte ranges tile [0, payload_len)."""
    ranges = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise _Malformed(f"tensors[{i}] must be a JSON object, got a JSON {_json_type(e)}")
        if set(e) != _ENTRY_KEYS:
            raise _Malformed(f"tensors[{i}] must have exactly the keys {sorted(_ENTRY_KEYS)}, got {sorted(e)}")
        name, shape, offset, nbytes = e["name"], e["shape"], e["offset"], e["nbytes"]
        if not isinstance(name, str):
            raise _Malformed(f"tensors[{i}] name must be a string, got {name!r}")
        where = f"tensors[{i}] ({name!r})"
        if name in ranges:
            raise _Malformed(f"{where}: a second tensor named {name!r}")
        ndim = 1 if name.startswith("biases.") else 2
        if not isinstance(shape, list) or len(shape) != ndim or not all(_is_int(d, 1) for d in shape):
            raise _Malformed(f"{where}: shape must be a list of {ndim} positive integers, got {shape!r}")
        if not _is_int(offset, 0):
            raise _Malformed(f"{where}: offset must be a non-negative integer, got {offset!r}")
        if not _is_int(nbytes, 0):
            raise _Malformed(f"{where}: nbytes must be a non-negative integer, got {nbytes!r}")
        needed = dtype.itemsize
        for d in shape:
            needed *= d
        if needed != nbytes:
            raise _Malformed(f"{where}: shape {shape} of {dtype} needs {needed} bytes, nbytes says {nbytes}")
        if offset + nbytes > payload_len:
            raise _Malformed(f"{where}: bytes [{offset}, {offset + nbytes}) run past the end of "
                             f"the {payload_len}-byte payload")
        ranges[name] = (shape, offset, nbytes)
    layers = sum(n.startswith("weights.") for n in ranges)
    expected = {f"{kind}.{l}" for kind in ("weights", "biases") for l in range(layers)}
    if skip == "matrix":
        expected.add("skip")
    unexpected, missing = sorted(set(ranges) - expected), sorted(expected - set(ranges))
    if unexpected or missing or not layers:
        raise _Malformed(f"tensors must be weights.0..{layers - 1}, biases.0..{layers - 1}"
                         f"{' and skip' if skip == 'matrix' else ''} (skip is {skip!r}); "
                         f"unexpected {unexpected}, missing {missing}")
    end, last = 0, None
    for name, (_, offset, nbytes) in sorted(ranges.items(), key=lambda item: item[1][1]):
        if offset < end:
            raise _Malformed(f"tensor {name!r} bytes [{offset}, {offset + nbytes}) overlap tensor {last!r} "
                             f"bytes [{ranges[last][1]}, {end})")
        if offset > end:
            raise _Malformed(f"payload bytes [{end}, {offset}) belong to no tensor")
        end, last = offset + nbytes, name
    if end != payload_len:
        raise _Malformed(f"payload bytes [{end}, {payload_len}) belong to no tensor")
    return ranges
