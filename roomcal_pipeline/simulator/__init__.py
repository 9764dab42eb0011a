"""Simulated, Graph-compatible Microsoft 365 tenant (SPEC section 7) for demos and tests."""

from .faults import FaultConfig, ServerStats, ThrottleRecord
from .server import SimulatorServer, serve_forever
from .tenant import CANARY_PREFIX, SimRoom, SimulatedTenant

__all__ = [
    "CANARY_PREFIX",
    "FaultConfig",
    "ServerStats",
    "SimRoom",
    "SimulatedTenant",
    "SimulatorServer",
    "ThrottleRecord",
    "serve_forever",
]
