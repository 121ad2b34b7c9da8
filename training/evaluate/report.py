"""The report of a list of result rows, written to one folder.

``results.csv``: one row per env, model, planner and mode, with each task's outcome. ``results.md``:
the headline (Adam under MPC on each model against CEM under MPC on the offline model, any-time
success with 95% Wilson intervals, and Adam's planning time as a share of CEM's), the changes
between those runs on the same tasks with 95% paired intervals (offline to OWM / AWM for Adam, CEM
to Adam), then success and planning-time tables shaped like the paper's Table 1 (rows model x mode,
a column per env, each cell the planners' values), and every setting. ``success_vs_time.png``:
any-time success against planning time, with the intervals as error bars; ``paired_changes.png``:
the paired changes with their intervals. Times: the median planner call and the per-episode sum,
each also divided by the number of tasks.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..config import METHODS
from .errors import EvaluationError
from .settings import BASELINE, ENV_SPECS, MODES, PLANNER_CHOICES, PLANNERS
from .stats import paired_difference_interval, wilson_interval

PLANNER_LABELS = {"gd": "GD", "adam": "Adam", "cem": "CEM", "mppi": "MPPI", "none": "none"}


def outcome_text(solved) -> str:
    """Each task's outcome in task order, ``1`` solved and ``0`` not, space-separated (so that no CSV
    reader takes it for a number): ``[True, False, True]`` -> ``"1 0 1"``."""
    return " ".join("1" if s else "0" for s in solved)


def outcomes(text: str) -> np.ndarray:
    """[P] bool from ``outcome_text``."""
    values = text.split()
    if not values or set(values) - {"0", "1"}:
        raise EvaluationError(f"task outcomes must be 0s and 1s separated by spaces, got {text[:40]!r}")
    return np.array([v == "1" for v in values])


def _ordered(values, order):
    return [v for v in order if v in values] + sorted(set(values) - set(order))


def _cell(rows, env, model, mode, planners, show):
    found = {r["planner"]: r for r in rows if (r["env"], r["model"], r["mode"]) == (env, model, mode)}
    return " / ".join(show(found[p]) if p in found else "-" for p in planners)


def markdown_table(rows, show) -> str:
    """Rows model x mode, a column per env, each cell ``GD / Adam / CEM / MPPI`` values ``show(row)``."""
    envs = _ordered({r["env"] for r in rows}, tuple(ENV_SPECS))
    models = _ordered({r["model"] for r in rows}, METHODS)
    modes = _ordered({r["mode"] for r in rows}, MODES)
    planners = _ordered({r["planner"] for r in rows}, PLANNER_CHOICES)
    head = " / ".join(PLANNER_LABELS[p] for p in planners)
    lines = [f"| model | {' | '.join(f'{e} ({head})' for e in envs)} |", "|---" * (len(envs) + 1) + "|"]
    for model in models:
        for mode in modes:
            label = f"{model}, open-loop" if mode == "open-loop" else f"{model} + MPC"
            cells = [_cell(rows, e, model, mode, planners, show) for e in envs]
            lines.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(lines)


def rate_with_interval(successes, tasks) -> str:
    """``78 [65, 87]``: the rate and its 95% Wilson interval, in %."""
    low, high = wilson_interval(int(successes), int(tasks))
    return f"{100 * successes / tasks:.0f} [{100 * low:.0f}, {100 * high:.0f}]"


def headline_table(rows) -> str:
    """Per env: CEM under MPC on the offline model, Adam under MPC on each model (any-time success %
    and its 95% interval), and each Adam run's planning time per episode as a share of that CEM's."""
    envs = _ordered({r["env"] for r in rows}, tuple(ENV_SPECS))
    models = _ordered({r["model"] for r in rows}, METHODS)
    find = {(r["env"], r["model"], r["planner"]): r for r in rows if r["mode"] == "mpc"}
    lines = [f"| env | CEM + MPC, offline | {' | '.join(f'Adam + MPC, {m}' for m in models)} "
             f"| Adam time / CEM time ({' / '.join(models)}) |", "|---" * (len(models) + 3) + "|"]
    for env in envs:
        cem = find.get((env, "offline", "cem"))
        adams = [find.get((env, m, "adam")) for m in models]
        cells = [rate_with_interval(r["anytime_successes"], r["tasks"]) if r else "-" for r in [cem, *adams]]
        shares = [f"{r['episode_s'] / cem['episode_s']:.2f}" if r and cem and cem["episode_s"] > 0 else "-"
                  for r in adams]
        lines.append(f"| {env} | {' | '.join(cells)} | {' / '.join(shares)} |")
    return "\n".join(lines)


def paired_changes(rows) -> tuple[list[str], dict]:
    """The comparisons of ``change_table``, as (labels, {(env, label): (change, low, high)}): per env,
    paired over its tasks, the change in Adam's any-time success under MPC from the offline model to
    each other model, and from CEM under MPC on the offline model to Adam on each model, with its 95%
    paired interval (``paired_difference_interval``). A pair missing a run or its per-task outcomes
    is left out."""
    models = _ordered({r["model"] for r in rows}, METHODS)
    pairs = [(f"Adam, {m} - Adam, offline", ("adam", m), ("adam", "offline")) for m in models if m != "offline"]
    pairs += [(f"Adam, {m} - CEM, offline", ("adam", m), ("cem", "offline")) for m in models]
    find = {(r["env"], r["planner"], r["model"]): r for r in rows if r["mode"] == "mpc"}
    changes = {}
    for env in {r["env"] for r in rows}:
        for label, one, other in pairs:
            first, second = find.get((env, *one)), find.get((env, *other))
            if first and second and all(r.get("task_anytime_successes") for r in (first, second)):
                changes[env, label] = paired_difference_interval(outcomes(first["task_anytime_successes"]),
                                                                 outcomes(second["task_anytime_successes"]))
    return [label for label, _, _ in pairs], changes


def change_table(rows) -> str:
    """``paired_changes`` as markdown: a row per env, each cell ``+6 [-4, +16]`` (percentage points),
    ``-`` where the pair is missing."""
    labels, changes = paired_changes(rows)
    cell = lambda c: "-" if c is None else "{:+.0f} [{:+.0f}, {:+.0f}]".format(*(100 * v for v in c))
    lines = [f"| env | {' | '.join(labels)} |", "|---" * (len(labels) + 1) + "|"]
    for env in _ordered({r["env"] for r in rows}, tuple(ENV_SPECS)):
        lines.append(f"| {env} | {' | '.join(cell(changes.get((env, label))) for label in labels)} |")
    return "\n".join(lines)


def settings_tables(rows) -> str:
    """Each env's spec and success test, and each distinct planner setting (with its objective and
    action units) with the envs that used it, as markdown."""
    envs = _ordered({r["env"] for r in rows}, tuple(ENV_SPECS))
    lines = ["| env | goal dims (q = 1/std^2) | angle dims | MPC steps | CEM/MPPI iters | success |",
             "|---|---|---|---|---|---|"]
    for env in envs:
        r = next(r for r in rows if r["env"] == env)
        lines.append(f"| {env} | {r['goal_dims']} | {r['angle_dims']} | {r['mpc_steps']} | {r['sampling_iters']} "
                     f"| `{r['success']}` |")
    lines += ["", "| planner | mode | envs | settings | objective | action units |", "|---|---|---|---|---|---|"]
    used = {}
    for r in rows:
        used.setdefault((r["planner"], r["mode"], r["settings"], r["objective"], r["action_units"]), set()).add(r["env"])
    order = lambda k: (PLANNER_CHOICES.index(k[0]), MODES.index(k[1]))
    for key in sorted(used, key=order):
        planner, mode, settings, objective, units = key
        lines.append(f"| {planner} | {mode} | {', '.join(_ordered(used[key], envs))} | `{settings}` "
                     f"| `{objective}` | {units} |")
    return "\n".join(lines)


def report_markdown(rows) -> str:
    """results.md: success %, planning time per episode and per call, settings, backends and devices."""
    backends = sorted({f"{r['planner']}: {r['backend']}" for r in rows})
    devices = sorted({r["device"] for r in rows})
    tasks = sorted({r["tasks"] for r in rows})
    return "\n\n".join([
        f"# Planning success (tasks per env: {', '.join(map(str, tasks))})",
        "## Adam under MPC against CEM under MPC on the offline model (any-time success %, 95% interval)",
        headline_table(rows),
        "## Change in any-time success on the same tasks (percentage points, 95% paired interval)",
        change_table(rows),
        "## Any-time success % (95% interval; solved at some replanning boundary)",
        markdown_table(rows, lambda r: rate_with_interval(r["anytime_successes"], r["tasks"])),
        "## Final-state success % (95% interval)",
        markdown_table(rows, lambda r: rate_with_interval(r["successes"], r["tasks"])),
        "## Planning time per episode, amortised per task (ms)",
        markdown_table(rows, lambda r: f"{1e3 * r['episode_s_per_task']:.3g}"),
        "## Median time of one planner call, batched over all tasks (ms)",
        markdown_table(rows, lambda r: f"{1e3 * r['call_s_median']:.3g}"),
        "## Settings", settings_tables(rows),
        f"Backends: {', '.join(backends)}. Devices: {'; '.join(devices)}.",
    ]) + "\n"


def write_csv(rows, path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot(rows, path: Path) -> None:
    """Any-time success % (with its 95% Wilson interval as an error bar) vs planning time per episode
    and task (log x): a panel per env, a marker per planner, a colour per model, filled for MPC and
    hollow for open-loop; the do-nothing baseline as a grey line (dashed: the MPC length, dotted:
    the open-loop one)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    envs = _ordered({r["env"] for r in rows}, tuple(ENV_SPECS))
    models = _ordered({r["model"] for r in rows}, METHODS)
    markers = dict(zip(PLANNERS, "osD^"))
    colours = {m: f"C{i}" for i, m in enumerate(models)}
    fig, axes = plt.subplots(1, len(envs), figsize=(4 * len(envs), 3.6), squeeze=False)
    for ax, env in zip(axes[0], envs):
        for r in (r for r in rows if r["env"] == env and r["planner"] == BASELINE):
            ax.axhline(100 * r["anytime_success_rate"], color="0.6", ls="--" if r["mode"] == "mpc" else ":", lw=1)
        for r in (r for r in rows if r["env"] == env and r["planner"] != BASELINE):
            colour = colours[r["model"]]
            rate = 100 * r["anytime_success_rate"]
            low, high = (100 * v for v in wilson_interval(int(r["anytime_successes"]), int(r["tasks"])))
            x = r["episode_s_per_task"] * 1e3
            ax.errorbar(x, rate, yerr=[[rate - low], [high - rate]], color=colour, alpha=0.35, lw=1, capsize=2)
            ax.scatter(x, rate, marker=markers[r["planner"]], s=45, alpha=0.8, edgecolors=colour,
                       facecolors=colour if r["mode"] == "mpc" else "none")
        ax.set(xscale="log", title=env, xlabel="planning time per episode and task (ms)", ylim=(-5, 105))
    axes[0][0].set_ylabel("any-time success % (95% interval)")
    handles = [Line2D([], [], ls="", marker=markers[p], color="k", label=PLANNER_LABELS[p]) for p in PLANNERS
               if any(r["planner"] == p for r in rows)]
    handles += [Line2D([], [], ls="", marker="o", color=colours[m], label=m) for m in models]
    if any(r["planner"] == BASELINE for r in rows):
        handles.append(Line2D([], [], ls="--", color="0.6", label="do nothing"))
    handles += [Line2D([], [], ls="", marker="o", color="k", label="MPC"),
                Line2D([], [], ls="", marker="o", markerfacecolor="none", color="k", label="open-loop")]
    fig.legend(handles=handles, loc="outside right center")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_changes(rows, path: Path) -> bool:
    """``paired_changes`` as a forest plot: a panel per env, a row per comparison, the change in
    any-time success (percentage points) with its 95% paired interval, and a line at no change.
    Writes nothing and returns False when no pair has per-task outcomes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, changes = paired_changes(rows)
    envs = _ordered({env for env, _ in changes}, tuple(ENV_SPECS))
    if not envs:
        return False
    reach = min(100.0, 5 + max(100 * max(-low, high) for _, low, high in changes.values()))
    fig, axes = plt.subplots(1, len(envs), figsize=(3.2 * len(envs), 0.45 * len(labels) + 1.4), sharey=True,
                             squeeze=False)
    for ax, env in zip(axes[0], envs):
        for y, label in enumerate(labels):
            if (env, label) in changes:
                change, low, high = (100 * v for v in changes[env, label])
                colour = "C0" if label.endswith("Adam, offline") else "C3"
                ax.errorbar(change, y, xerr=[[change - low], [high - change]], fmt="o", color=colour, capsize=3)
        ax.axvline(0, color="0.5", ls="--", lw=1)
        ax.set(title=env, xlim=(-reach, reach))
    axes[0][0].set(yticks=range(len(labels)), yticklabels=labels, ylim=(len(labels) - 0.5, -0.5))
    fig.supxlabel("change in any-time success, percentage points (95% paired interval)", y=-0.06)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return True


def write_report(rows, out_dir) -> dict:
    """results.csv, results.md, success_vs_time.png and, where runs can be paired, paired_changes.png in
    ``out_dir``; returns the paths written."""
    if not rows:
        raise EvaluationError("no results to report")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "results.csv", "markdown": out / "results.md", "plot": out / "success_vs_time.png"}
    write_csv(rows, paths["csv"])
    paths["markdown"].write_text(report_markdown(rows))
    plot(rows, paths["plot"])
    changes = out / "paired_changes.png"
    if plot_changes(rows, changes):
        paths["changes"] = changes
    return paths
