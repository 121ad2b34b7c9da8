"""What the eval/ scripts share: the task arguments and writing their markdown table."""
import argparse
from pathlib import Path


def task_arguments(doc: str, add_arguments=None) -> argparse.Namespace:
    """``--tasks`` (50), ``--seed`` (0) and ``--out`` (a markdown file), described by ``doc``'s first
    line; ``add_arguments(parser)`` adds a script's own."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    if add_arguments is not None:
        add_arguments(parser)
    return parser.parse_args()


def emit(lines, title: str, args: argparse.Namespace) -> None:
    """Print the table ``lines``; with ``--out``, write it under ``# title (N tasks, seed S)``."""
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        args.out.write_text(f"# {title} ({args.tasks} tasks, seed {args.seed})\n\n" + table)
