"""Reading the store: SQL over HTTP, its output formats and catalog statements."""
