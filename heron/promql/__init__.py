"""PromQL over Heron's series model: parse with ``promql-parser``, select in DuckDB, evaluate with arrays."""

from heron.promql.engine import Evaluator, Options, parse
from heron.promql.errors import BadData, ExecutionError, QueryTimeout
from heron.promql.series import Catalog, Matcher, SeriesReader, load_catalog

__all__ = [
    "BadData",
    "Catalog",
    "Evaluator",
    "ExecutionError",
    "Matcher",
    "Options",
    "QueryTimeout",
    "SeriesReader",
    "load_catalog",
    "parse",
]
