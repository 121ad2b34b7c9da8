"""Reading and writing MLPWorldModel files (.wmk).

    b"WMK1" | header length (uint64 LE) | JSON header | raw little-endian tensor bytes

The header holds the activation, dtype, each tensor's name, shape and byte range, and a CRC32
of the payload. Loading never unpickles anything.
"""
import json
import struct
import zlib
from pathlib import Path

import torch

_MAGIC = b"WMK1"
_FORMAT_VERSION = 1
_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16,
           "float32": torch.float32, "float64": torch.float64}


class ModelFileError(ValueError):
    """A model file that is not a valid wmkernels model (corrupt, truncated, wrong format)."""


def write(path, activation: str, named_tensors) -> None:
    """Write (name, tensor) pairs of one dtype and the activation to path."""
    dtype_name = str(named_tensors[0][1].dtype).replace("torch.", "")
    entries, chunks, offset = [], [], 0
    for name, t in named_tensors:
        data = t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes()
        entries.append({"name": name, "shape": list(t.shape), "offset": offset, "nbytes": len(data)})
        chunks.append(data)
        offset += len(data)
    payload = b"".join(chunks)
    header = json.dumps({"format": "wmkernels.MLPWorldModel", "version": _FORMAT_VERSION,
                         "activation": activation, "dtype": dtype_name,
                         "tensors": entries, "payload_bytes": len(payload),
                         "crc32": zlib.crc32(payload)}).encode()
    Path(path).write_bytes(_MAGIC + struct.pack("<Q", len(header)) + header + payload)


def read(path, device=None):
    """(activation, weights, biases, skip or None) from a file written by write(), tensors on device;
    raises ModelFileError on any corruption."""
    blob = Path(path).read_bytes()
    if blob[:4] != _MAGIC:
        raise ModelFileError(f"{path} is not a wmkernels model file (bad magic bytes)")
    if len(blob) < 12:
        raise ModelFileError(f"{path} is truncated (no header length)")
    (header_len,) = struct.unpack("<Q", blob[4:12])
    if 12 + header_len > len(blob):
        raise ModelFileError(f"{path} is truncated (header of {header_len} bytes does not fit)")
    try:
        header = json.loads(blob[12:12 + header_len])
        payload = blob[12 + header_len:]
        if header.get("format") != "wmkernels.MLPWorldModel" or header.get("version") != _FORMAT_VERSION:
            raise ModelFileError(f"{path}: unsupported format or version "
                                 f"{header.get('format')!r} v{header.get('version')!r}")
        if len(payload) != header["payload_bytes"]:
            raise ModelFileError(f"{path} is truncated: payload has {len(payload)} bytes, "
                                 f"header says {header['payload_bytes']}")
        if zlib.crc32(payload) != header["crc32"]:
            raise ModelFileError(f"{path} is corrupt: payload checksum mismatch")
        dtype = _DTYPES[header["dtype"]]
        tensors = {}
        for e in header["tensors"]:
            raw = bytearray(payload[e["offset"]:e["offset"] + e["nbytes"]])
            tensors[e["name"]] = torch.frombuffer(raw, dtype=dtype).reshape(e["shape"]).to(device)
        count = sum(1 for name in tensors if name.startswith("weights."))
        weights = [tensors[f"weights.{l}"] for l in range(count)]
        biases = [tensors[f"biases.{l}"] for l in range(count)]
        return header["activation"], weights, biases, tensors.get("skip")
    except ModelFileError:
        raise
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise ModelFileError(f"{path} is not a valid wmkernels model: {err}") from err
