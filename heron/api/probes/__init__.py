"""Service monitors' routes: Nezha v1's service API, Nezha v0's monitor route, push URLs, the agent channel."""
