"""Wire formats: one pure module per protocol, bytes in, columnar batches out."""
