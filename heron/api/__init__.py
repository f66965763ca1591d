"""The HTTP API: one ASGI app assembled from a router per dialect family."""
