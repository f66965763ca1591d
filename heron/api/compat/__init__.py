"""Routes in a peer's exact shape (paths, fields, envelopes) over Heron's own services."""
