"""Progress (training/progress.py): a bar on a terminal, plain periodic lines otherwise."""
import io
import sys

from tqdm import tqdm

from training.progress import PeriodicLines, progress


def test_periodic_lines_are_plain_lines_with_counts_and_postfix():
    stream = io.StringIO()
    lines = PeriodicLines(range(3), "collect", unit="ep", seconds=0.0, stream=stream)
    seen = []
    for i in lines:
        seen.append(i)
        lines.set_postfix(loss="0.5")
    assert seen == [0, 1, 2]
    text = stream.getvalue()
    assert "\r" not in text
    rows = text.splitlines()
    assert len(rows) == 4 and rows[0].startswith("collect: 1/3 ep (33%), ") and rows[0].endswith(", loss=0.5")
    assert rows[-1].startswith("collect: 3/3 ep (100%), ")


def test_a_short_loop_writes_nothing():
    stream = io.StringIO()
    assert list(PeriodicLines(iter(range(5)), "x", seconds=60.0, stream=stream)) == list(range(5))
    assert stream.getvalue() == ""


def test_progress_picks_lines_off_a_terminal_and_a_bar_on_one(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert isinstance(progress(range(2), "a"), PeriodicLines)
    disabled = progress(range(2), "a", enabled=False)
    assert isinstance(disabled, tqdm) and disabled.disable and list(disabled) == [0, 1]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bar = progress(range(2), "a")
    assert isinstance(bar, tqdm) and not bar.disable
    bar.close()
