"""The web-traffic API simulator: a dev tool for the demo and the tests (not in the API image)."""

from weblogs.simulator.generator import TrafficGenerator
from weblogs.simulator.population import DEFAULT_START, SESSION_ARRIVAL_MEAN_S
from weblogs.simulator.server import SimulatorServer

__all__ = ["DEFAULT_START", "SESSION_ARRIVAL_MEAN_S", "SimulatorServer", "TrafficGenerator"]
