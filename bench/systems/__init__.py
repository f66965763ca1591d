"""The systems the benchmarks run, each as a `Server` we start and stop ourselves."""

from bench.systems.base import PHASE_ERRORS, PointCount, Server, ServerFailed, describe_failure, running
from bench.systems.heron import Heron
from bench.systems.influxdb import InfluxDB
from bench.systems.victoriametrics import VictoriaMetrics

__all__ = [
    "PHASE_ERRORS",
    "Heron",
    "InfluxDB",
    "PointCount",
    "Server",
    "ServerFailed",
    "VictoriaMetrics",
    "describe_failure",
    "running",
]
