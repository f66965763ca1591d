"""Servers: registration (pushed data, heartbeats, agents, API), live state, history."""
