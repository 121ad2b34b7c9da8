"""The error evaluation raises for bad input."""


class EvaluationError(ValueError):
    """Bad input to an evaluation (unknown name, missing or mismatched model); the message says which."""
