"""trfd_jax: derivative-free optimization with finite-difference trust regions (TRFD-S).

The public API; the work lives in ``trfd_jax._src``.
"""

from trfd_jax._src.api import SolveKwargs, SolverError, least_squares, minimize
from trfd_jax._src.black_box import BestSoFar, BlackBox, EvaluationTimeout, black_box
from trfd_jax._src.checks import make_problem
from trfd_jax._src.iterate import run
from trfd_jax._src.objective import BatchObjective, Objective
from trfd_jax._src.observe import IterationSummary
from trfd_jax._src.options import Options
from trfd_jax._src.problem import Problem
from trfd_jax._src.record import Record
from trfd_jax._src.search import GaussNewtonSearch, ModelSearch, SearchStep, SearchView
from trfd_jax._src.sets import (
    Box,
    ConvexSet,
    HalfSpace,
    Intersection,
    L1Ball,
    L2Ball,
    NonNegative,
    Projection,
    Simplex,
)
from trfd_jax._src.solution import Result, Status, result, status_message
from trfd_jax._src.state import Counters, Iterate, Model, Region, State, StepKind
from trfd_jax._src.stationarity import stationarity
from trfd_jax._src.subproblem import solve_trust_region_subproblem
from trfd_jax._src.trfd import gradient_step, init, step, terminate, trust_region_step

__all__ = [
    "BatchObjective",
    "BestSoFar",
    "BlackBox",
    "Box",
    "ConvexSet",
    "Counters",
    "EvaluationTimeout",
    "GaussNewtonSearch",
    "HalfSpace",
    "Intersection",
    "Iterate",
    "IterationSummary",
    "L1Ball",
    "L2Ball",
    "Model",
    "ModelSearch",
    "NonNegative",
    "Objective",
    "Options",
    "Problem",
    "Projection",
    "Record",
    "Region",
    "Result",
    "SearchStep",
    "SearchView",
    "Simplex",
    "SolveKwargs",
    "SolverError",
    "State",
    "Status",
    "StepKind",
    "black_box",
    "gradient_step",
    "init",
    "least_squares",
    "make_problem",
    "minimize",
    "result",
    "run",
    "solve_trust_region_subproblem",
    "stationarity",
    "status_message",
    "step",
    "terminate",
    "trust_region_step",
]

__version__ = "0.1.0"
