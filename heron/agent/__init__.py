"""The host agent: collects host info and status with psutil and streams them to a Heron server.

It imports nothing from the server's packages (``api``, ``tsdb``, ``meta``, ``inventory``,
``auth``) nor the settings module, so it runs on a host that has only psutil besides Heron's
core; its WebSocket client is its own (:mod:`heron.agent.websocket`), to stay small.
tests/agent/test_imports.py runs the real command and checks what it loaded.
"""
