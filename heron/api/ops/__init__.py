"""Remote operations' routes: cron, terminal, files, NAT, DDNS, agent config, maintenance, audit, MCP."""
