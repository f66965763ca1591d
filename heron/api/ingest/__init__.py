"""Push routes: line protocol, OpenTSDB, Open-Falcon, Datadog, remote write, logs and traces."""
