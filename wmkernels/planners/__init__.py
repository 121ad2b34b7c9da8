from .base import PlanResult, Planner
from .gradient import GradientPlanner
from .mpc import MPC
from .cem import CEMPlanner
from .mppi import MPPIPlanner

__all__ = ["PlanResult", "Planner", "GradientPlanner", "CEMPlanner", "MPPIPlanner", "MPC"]
