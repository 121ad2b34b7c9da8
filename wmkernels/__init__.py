"""wmkernels: fused planning kernels for learned world models.

Importing this package loads neither triton nor the C++ extension; backends load on first use.
"""
from . import ops
from ._backend import BackendUnavailable
from ._checks import NonFiniteError, set_value_checks, value_checks, value_checks_enabled
from .model import MLPWorldModel, WorldModelModule, linear_world_model
from .model_file import ModelFileError
from .objective import Objective
from .planners import MPC, CEMPlanner, GradientPlanner, MPPIPlanner, PlanResult
from ._info import info

__version__ = "0.1.0"
__all__ = ["MLPWorldModel", "WorldModelModule", "ModelFileError", "Objective", "GradientPlanner",
           "CEMPlanner", "MPPIPlanner", "MPC", "PlanResult", "BackendUnavailable", "linear_world_model", "ops", "info",
           "set_value_checks", "value_checks", "value_checks_enabled", "NonFiniteError"]
