"""Open-Falcon's push format, as Nightingale's ``/openfalcon/push`` accepts it.

Open-Falcon (https://book.open-falcon.org/en_0_2/usage/data-push.html) and Nightingale
(ccfos/nightingale, pushgw/router/router_openfalcon.go)::

    {"endpoint": "host01", "metric": "cpu.idle", "timestamp": 1637732157, "step": 60,
     "value": 42.5, "counterType": "GAUGE", "tags": "idc=lg,loc=beijing"}

    body         one such object, or a JSON array of them
    endpoint     the host the sample is about
    metric       string, required
    timestamp    integer Unix time: seconds, or milliseconds when above 0xFFFFFFFF
    value        a number, or a string holding one
    tags         "k=v,k2=v2"; pieces without "=" are ignored
    step, counterType   accepted and ignored (Nightingale ignores them too)

``endpoint`` becomes the ``ident`` tag, which registers the host, unless the tags carry an
``ident`` already; then the endpoint is kept as the tag ``endpoint``. As in Nightingale, a
timestamp more than five minutes ahead of the server's clock is replaced by the server's time.

Heron deviates as for OpenTSDB JSON (:mod:`heron.protocols.opentsdb`): names are kept as sent,
a missing timestamp means now, a float timestamp keeps its fraction, ``NaN`` and infinities
are rejected, tag names ``time`` and ``value`` are rejected. Spaces around tag names and
values are trimmed (as Open-Falcon's agent does), and a tag with an empty value is absent.
"""

from __future__ import annotations

from heron.protocols.opentsdb import (
    DEFAULT_MAX_ERRORS,
    MetricRows,
    MetricsResult,
    json_items,
    json_kind,
    take_metric_value_time,
)

__all__ = ["parse_openfalcon_json", "parse_tag_string"]


def parse_tag_string(text: str) -> dict[str, str]:
    """``"k=v,k2=v2"`` as a dict; pieces without ``=`` and empty values are left out."""
    tags: dict[str, str] = {}
    if not text:
        return tags
    for piece in text.split(","):
        key, sep, value = piece.partition("=")
        key, value = key.strip(), value.strip()
        if sep and value:
            tags[key] = value
    return tags


def parse_openfalcon_json(body: bytes, *, now_ns: int, max_errors: int = DEFAULT_MAX_ERRORS) -> MetricsResult:
    """Every item of the body; invalid items are skipped and counted, malformed JSON raises."""
    items = json_items(body)
    rows = MetricRows(max_errors=max_errors)
    for line, item in enumerate(items, start=1):
        if type(item) is not dict:
            rows.reject(line, "expected a metric object", got=json_kind(item))
            continue
        taken = take_metric_value_time(rows, line, item, now_ns)
        if taken is None:
            continue
        metric, value, time_ns = taken
        raw_tags = item.get("tags")
        if raw_tags is not None and type(raw_tags) is not str:
            rows.reject(line, 'tags must be a string of "k=v" pairs', got=json_kind(raw_tags))
            continue
        endpoint = item.get("endpoint")
        if endpoint is not None and type(endpoint) is not str:
            rows.reject(line, "endpoint must be a string", got=json_kind(endpoint))
            continue
        tags = parse_tag_string(raw_tags or "")
        if endpoint:
            if "ident" in tags:
                tags["endpoint"] = endpoint
            else:
                tags["ident"] = endpoint
        problem = rows.check_names(metric, tags)
        if problem is not None:
            rows.reject(line, problem)
            continue
        rows.add(line, metric, tags, time_ns, value)
    return rows.result(len(items))
