"""Simulated, Graph-compatible Microsoft 365 tenant (the simulated tenant, README) for demos and tests.

- org.py: the synthetic organisation (buildings, rooms, people, registry CSV);
- generator.py: its lazily generated room calendars;
- store.py: the versioned change store of mutated rooms that delta reads, and the view's
  calendar geometry (overlap rule, scan-back);
- wire.py: Graph's wire rendering (start/end pairs, floating all-day dates, delta items);
- tenant.py: SimulatedTenant, tying them together (queries, ground truth, mutations);
- server.py / faults.py: the HTTP server and its fault injection.
"""

from .faults import FaultConfig, ServerStats, ThrottleRecord
from .org import SimRoom
from .server import SimulatorServer, serve_forever
from .store import CANARY_PREFIX
from .tenant import SimulatedTenant

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
