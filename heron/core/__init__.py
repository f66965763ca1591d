"""Domain types with no I/O: batches of points, errors, time helpers."""
