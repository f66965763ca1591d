"""Alerting: rules over servers and stored series, events, silences, notifications and their delivery."""
