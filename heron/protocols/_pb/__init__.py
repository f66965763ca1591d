"""Protobuf messages generated from the ``.proto`` files beside this module.

The ``.proto`` files were written for Heron from the public specifications they cite. To
regenerate the remote-write modules after changing their ``.proto``, from the repository
root::

    python -m heron.protocols._pb.regenerate

which runs ``grpc_tools.protoc`` and then makes the output importable with protobuf 4.25
and later (see :mod:`heron.protocols._pb.regenerate`).
"""
