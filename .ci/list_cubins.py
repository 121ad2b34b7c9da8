"""CI: list the cubins and PTX of every extension in a wheel with cuobjdump (shipped in the
triton package) and check they are exactly the requested architectures.

    python .ci/list_cubins.py WHEEL ARCHS     # ARCHS as make wheel takes them, e.g. "80;90"
"""
import importlib.util
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cuobjdump():
    spec = importlib.util.find_spec("triton")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("cuobjdump not found: it ships in the triton package (a CUDA torch installs it)")
    tool = Path(spec.submodule_search_locations[0]) / "backends" / "nvidia" / "bin" / "cuobjdump"
    if not tool.exists():
        sys.exit(f"cuobjdump not found at {tool}")
    return str(tool)


def parse_archs(raw):
    spec = importlib.util.spec_from_file_location("wmkernels_archs", ROOT / "wmkernels" / "_archs.py")
    archs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(archs)
    return [archs.sm_name(a) for a in archs.parse(raw)]


def main(wheel, raw_archs):
    want = parse_archs(raw_archs)
    tool = cuobjdump()
    found_sass, found_ptx = set(), set()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as zf:
        libs = [n for n in zf.namelist() if n.startswith("wmkernels/") and ".so" in n]
        if not libs:
            sys.exit(f"{wheel} holds no compiled extension")
        for name in libs:
            path = zf.extract(name, tmp)
            for flag in ("--list-elf", "--list-ptx"):
                out = subprocess.run([tool, flag, path], capture_output=True, text=True)
                listing = (out.stdout + out.stderr).strip()
                print(f"{name} ({flag}):\n  " + ("\n  ".join(listing.splitlines()) or "(none)"))
                found = found_sass if flag == "--list-elf" else found_ptx
                found.update(re.findall(r"\.(?:sm|compute)_(\d+[af]?)\.(?:cubin|ptx)", listing))
    problems = []
    if found_sass != set(want):
        problems.append(f"cubins for sm_{sorted(found_sass)}, expected sm_{want}")
    if found_ptx != {want[-1]}:
        problems.append(f"PTX for {sorted(found_ptx)}, expected compute_{want[-1]} only")
    if problems:
        sys.exit("cubin check failed: " + "; ".join(problems))
    print(f"cubin check passed: SASS for {', '.join('sm_' + a for a in want)}, PTX for compute_{want[-1]}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
