"""``python -m training.evaluate``: ``cli.main``, with bad input reported as ``error: ...``."""

from .cli import main
from .errors import EvaluationError

if __name__ == "__main__":
    try:
        main()
    except EvaluationError as err:
        raise SystemExit(f"error: {err}") from None
