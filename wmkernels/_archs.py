"""CUDA architecture lists: the one parser for WMK_CUDA_ARCHS / TORCH_CUDA_ARCH_LIST (setup.py,
the JIT build) and bench/compile_gate_cuda.py --archs, and what nvcc makes of them.

Accepted spellings of one architecture, all meaning compute capability 9.0:
"90", "sm_90", "sm90", "9.0"; with a suffix "9.0a" / "90a" / "sm_90a" (arch-specific features)
and "10.0f" / "100f" (family). Several are separated by ';', ',' or spaces; a trailing "+PTX"
(TORCH_CUDA_ARCH_LIST style) is accepted and ignored: the build always adds PTX for the newest.

This file imports nothing outside the standard library (setup.py and the compile gate load it
by path, without torch).
"""
import re

DEFAULT_ARCHS = "8.0;8.6;8.9;9.0"

# Lowest nvcc (major, minor) that can target each architecture, and the first that cannot.
NVCC_WINDOW = {"7.0": ((9, 0), (13, 0)), "7.5": ((10, 0), None), "8.0": ((11, 0), None),
               "8.6": ((11, 1), None), "8.7": ((11, 4), None), "8.9": ((11, 8), None),
               "9.0": ((11, 8), None), "9.0a": ((12, 0), None), "10.0": ((12, 8), None),
               "10.0a": ((12, 8), None), "10.1": ((12, 8), (13, 0)), "10.3": ((12, 9), None),
               "11.0": ((13, 0), None), "12.0": ((12, 8), None), "12.0a": ((12, 8), None),
               "12.1": ((12, 9), None)}

_ONE = re.compile(r"(?:sm_?)?(?:(?P<major>\d{1,2})\.(?P<minor>\d)|(?P<digits>\d{2,3}))(?P<suffix>[af]?)",
                  re.IGNORECASE)
_SPELLINGS = "90, sm_90, 9.0 or 9.0a (several separated by ';' or ',')"


class ArchError(ValueError):
    """An architecture list that cannot be read, or that nvcc cannot build anything of."""


def parse_one(item: str, raw: str = None) -> str:
    """One architecture in canonical form: "9.0", "9.0a", "10.0f"."""
    text = item.strip()
    if text.upper().endswith("+PTX"):
        text = text[:-4]
    match = _ONE.fullmatch(text)
    if match is None:
        where = f" in {raw!r}" if raw is not None and raw != item else ""
        raise ArchError(f"cannot read CUDA architecture {item!r}{where}: write it as {_SPELLINGS}")
    if match["digits"]:
        major, minor = match["digits"][:-1], match["digits"][-1]
    else:
        major, minor = match["major"], match["minor"]
    if not 3 <= int(major) <= 20:
        raise ArchError(f"{item!r} is not a CUDA architecture (compute capability {int(major)}.{minor}): "
                        f"write it as {_SPELLINGS}")
    return f"{int(major)}.{minor}{match['suffix'].lower()}"


def parse(raw: str) -> list:
    """Every architecture of `raw`, canonical, de-duplicated, oldest first.

    Raises ArchError naming the item that cannot be read, or saying the list is empty."""
    archs = []
    for item in re.split(r"[;,\s]+", str(raw or "").strip()):
        if item:
            arch = parse_one(item, raw)
            if arch not in archs:
                archs.append(arch)
    if not archs:
        raise ArchError(f"the CUDA architecture list {raw!r} is empty: give one or more, e.g. {_SPELLINGS}")
    return sorted(archs, key=sort_key)


def sort_key(arch: str):
    major, minor = arch.rstrip("af").split(".")
    return int(major), int(minor), arch


def supported(arch: str, nvcc_version) -> bool:
    """Whether nvcc (major, minor) can target `arch`; True for an architecture or a version that
    this table does not know (nvcc itself then has the last word)."""
    window = NVCC_WINDOW.get(arch)
    if nvcc_version is None or window is None:
        return True
    low, high = window
    return tuple(nvcc_version) >= low and (high is None or tuple(nvcc_version) < high)


def select(raw: str, nvcc_version=None):
    """(kept, dropped): the architectures of `raw` that nvcc `nvcc_version` can target, and the
    others. Raises ArchError if none is left."""
    archs = parse(raw)
    kept = [a for a in archs if supported(a, nvcc_version)]
    dropped = [a for a in archs if a not in kept]
    if not kept:
        version = ".".join(map(str, nvcc_version))
        raise ArchError(f"nvcc {version} can target none of the CUDA architectures {raw!r} "
                        f"({', '.join(archs)}); choose ones it supports")
    return kept, dropped


def sm_name(arch: str) -> str:
    """ "9.0a" -> "90a" (the number in sm_90a / compute_90a)."""
    return arch.replace(".", "")


def gencode_flags(archs):
    """One -gencode per architecture (SASS) plus PTX for the newest."""
    flags = [f"-gencode=arch=compute_{sm_name(a)},code=sm_{sm_name(a)}" for a in archs]
    newest = sm_name(archs[-1])
    flags.append(f"-gencode=arch=compute_{newest},code=compute_{newest}")
    return flags


def tag(archs) -> str:
    """The wheel's local-version part naming the architectures: "sm80.sm90a"."""
    return ".".join(f"sm{sm_name(a)}" for a in archs)
