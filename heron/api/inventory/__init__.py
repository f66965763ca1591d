"""Servers: the managed inventory, groups, metric history, the agent and browser WebSockets."""
