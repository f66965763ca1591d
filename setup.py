"""The optional compiled part of Heron: the remote-write scanner (heron/protocols/_rwscan.c).

Everything else is in pyproject.toml. ``optional=True``: where no C compiler is present the
build goes on without it, and Heron uses the pure-Python path that does the same work.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("heron.protocols._rwscan", ["heron/protocols/_rwscan.c"], optional=True, extra_compile_args=["-O2"])
    ]
)
