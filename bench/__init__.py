"""Side-by-side benchmarks of Heron and its peers (`python -m bench`, `make bench`).

Each system runs alone on this machine, one after the other, on 127.0.0.1 with its own
temporary directory; figures are compared only within one run, because a small shared
machine is too noisy for numbers from different runs to be compared.
"""
