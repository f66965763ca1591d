"""The web UI: its built files at ``/``, status pages (public HTML and their admin API)."""
