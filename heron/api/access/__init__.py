"""Who may call: sign-in, users, tokens, API keys, site settings and the WAF."""
