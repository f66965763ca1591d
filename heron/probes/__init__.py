"""Service monitors: HTTP(S), TCP, ICMP, DNS and push checks, run by the server and by agents.

The layout follows who may import what:

* :mod:`heron.probes.spec` and :mod:`heron.probes.checks` are the checks themselves. They
  import only the standard library, :mod:`heron.core.errors` and, lazily, the one library a
  kind needs (``h11``, ``icmplib``, ``dnspython``), because ``heron agent`` runs them too and
  must stay small (docs/agent.md, "Footprint"). Each kind has a blocking form (the agent's
  threads) and an asyncio form (the server's scheduler) over the same parsing and judging.
* Everything else is the server's: :mod:`heron.probes.monitors` (the monitors table),
  :mod:`heron.probes.state` (up, down, degraded, with retries), :mod:`heron.probes.board`
  (current state per monitor and vantage point, state-change subscriptions, history rows),
  :mod:`heron.probes.scheduler` (the Heron node's own checks and push deadlines) and
  :mod:`heron.probes.history` (the SQL behind the history routes).

The interface other features read (alerting): :class:`heron.probes.board.StateBoard`'s
``current()``, ``state_of()`` and ``subscribe()``; see its docstring.

This package's ``__init__`` imports nothing, so the agent importing a check loads no server code.
"""
