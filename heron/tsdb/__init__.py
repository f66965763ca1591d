"""The time-series store: DuckDB behind one writer (group commit) and a read sandbox."""
