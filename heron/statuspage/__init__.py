"""Public status pages: which servers (later services) each page lists, and their uptime from history."""
