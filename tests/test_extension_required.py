"""With WMK_REQUIRE_EXTENSION=1 (set by `make test`) a missing C++ extension fails the run instead
of skipping every cpp test."""
import os

import pytest

from wmkernels import _extension


@pytest.mark.skipif(os.environ.get("WMK_REQUIRE_EXTENSION") != "1", reason="WMK_REQUIRE_EXTENSION is not 1")
def test_the_required_extension_loads():
    reason = _extension.unavailable_reason("cpp")
    assert reason is None, f"WMK_REQUIRE_EXTENSION=1 but the cpp backend is unavailable: {reason}"
    import wmkernels._C  # noqa: F401  the built module itself, not a JIT build
