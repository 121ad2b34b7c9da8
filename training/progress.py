"""Progress of long loops: a tqdm bar on a terminal, a plain line every ``LINE_SECONDS`` otherwise
(a log file gets a readable line, not thousands of carriage returns), nothing when disabled."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

LINE_SECONDS = 30.0


class PeriodicLines:
    """Iterate ``iterable`` and write ``desc: i/n (p%), t s[, postfix]`` to ``stream`` every ``seconds``,
    and at the end if it wrote any line before (a short loop stays silent)."""

    def __init__(self, iterable, desc: str, total: int | None = None, unit: str = "it",
                 seconds: float = LINE_SECONDS, stream=None):
        self.iterable, self.desc, self.unit, self.seconds = iterable, desc, unit, seconds
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.stream = stream or sys.stderr
        self.postfix = ""

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def _line(self, done: int, started: float) -> None:
        count = f"{done}/{self.total} {self.unit} ({100 * done / self.total:.0f}%)" if self.total else f"{done} {self.unit}"
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {count}, {time.perf_counter() - started:.0f} s{extra}", file=self.stream, flush=True)

    def __iter__(self):
        started = last = time.perf_counter()
        done, wrote = 0, False
        for item in self.iterable:
            yield item
            done += 1
            if time.perf_counter() - last >= self.seconds:
                self._line(done, started)
                last, wrote = time.perf_counter(), True
        if wrote:
            self._line(done, started)


def progress(iterable, desc: str, enabled: bool = True, total: int | None = None, unit: str = "it",
             leave: bool = True):
    """``iterable`` with progress: a tqdm bar when stderr is a terminal, ``PeriodicLines`` when it is
    not, a silent tqdm when ``enabled`` is false (so ``set_postfix`` always works)."""
    if enabled and not sys.stderr.isatty():
        return PeriodicLines(iterable, desc, total, unit)
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, disable=not enabled)
