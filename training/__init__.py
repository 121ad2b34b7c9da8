"""Training layer for wmkernels: environments, datasets and (later) training.

Run from the repository root; this package is not part of the wheel.
"""
