"""Teacher-forcing training of world models: ``--method offline | online | adversarial``.

    python -m training.train --env PointMaze --method adversarial
    python -m training.train --config run.json --epochs 5          # flags override the file
    torchrun --nproc_per_node 2 -m training.train --env Wall        # DDP over gloo (CPU) / nccl (GPU)

Every field of ``training.config.TrainConfig`` is a flag (``owm_every``: ``--owm-every``; a bool
``progress``: ``--progress`` / ``--no-progress``); ``--config`` reads them from a JSON (or YAML)
file first. What a run does and writes in ``<out>`` (default ``runs/<env>-<method>``, the env name
made safe for a file name): ``training.trainer``. A folder that already holds a run is refused
unless ``--resume`` continues it or ``--overwrite`` replaces it.

CPU threads. ``--threads`` sets torch's thread count; on a machine shared with other jobs
``--threads 1`` avoids thread oversubscription (2 threads on a loaded 2-core machine ran up to
5x slower than 1 in our measurements).

Distributed. Under torchrun (WORLD_SIZE > 1) the run joins the process group (gloo on CPU, nccl
with ``--device cuda``) and splits each global batch across the ranks.
"""

from __future__ import annotations

import argparse
import dataclasses

from .config import ConfigError, TrainConfig, load_config_file, make_config
from .distributed import process_group
from .trainer import Trainer, training_device


def _parse_list(text):
    return [int(x) for x in str(text).replace("[", "").replace("]", "").split(",") if x.strip()]


def _optional(kind):
    def parse(text):
        return None if str(text).lower() in ("none", "null") else kind(text)
    parse.__name__ = kind.__name__
    return parse


def parse_args(argv=None) -> TrainConfig:
    """The config of ``--config`` (if given) with the other flags' values put over it."""
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="JSON (or YAML) file of config fields; flags override it")
    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        value = getattr(defaults, f.name)
        if isinstance(value, bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None)
        elif f.name == "widths":
            parser.add_argument(flag, dest=f.name, type=_parse_list, default=None, help="e.g. 256,256")
        else:
            kind = {"int": int, "float": float}.get(str(f.type).split(" ")[0], str)
            parser.add_argument(flag, dest=f.name, type=_optional(kind), default=None,
                                help=f"default: {value}")
    args = parser.parse_args(argv)
    values = load_config_file(args.config) if args.config else {}
    values.update({k: v for k, v in vars(args).items() if k != "config" and v is not None})
    return make_config(values)


def train(cfg: TrainConfig):
    """Run a training (joining torchrun's process group if there is one); returns the epoch log."""
    with process_group(gpu=training_device(cfg.validate().device).type == "cuda"):
        return Trainer(cfg).run()


def main(argv=None):
    train(parse_args(argv))


if __name__ == "__main__":
    try:
        main()
    except ConfigError as err:
        raise SystemExit(f"error: {err}") from None
