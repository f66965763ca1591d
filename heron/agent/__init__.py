"""The host agent: collects host info and status with psutil and streams them to a Heron server.

It imports nothing from the server's packages (``api``, ``tsdb``, ``meta``, ``inventory``,
``auth``), so it runs on a host that has only psutil and websockets besides Heron's core.
"""
