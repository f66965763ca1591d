"""Each kind of check against real local targets, in its blocking (agent) and asyncio (server) form."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import sys
import time
from typing import Any

import pytest

from heron.core.errors import BadRequest
from heron.probes import checks
from heron.probes.checks.icmp import IcmpUnavailable, privileged_mode
from heron.probes.spec import ProbeResult, ProbeSpec
from tests.probes.targets import closed_port, dns_target, http_target, listening_port


def run(kind: str, target: str, options: dict[str, Any] | None = None, *, form: str, timeout: float = 5) -> ProbeResult:
    clean_target, clean_options = checks.validate(kind, target, options or {})
    spec = ProbeSpec(1, kind, clean_target, 30, timeout, clean_options)
    if form == "blocking":
        return checks.check(spec, now=time.time())
    return asyncio.run(checks.check_async(spec, now=time.time()))


FORMS = pytest.mark.parametrize("form", ["blocking", "asyncio"])


@FORMS
def test_http_is_up_with_its_status_and_timings(form: str) -> None:
    with http_target() as target:
        result = run("http", f"{target.url}/", form=form)
    assert result.up, result.reason
    assert result.details["status_code"] == 200
    assert result.delay_ms is not None and result.delay_ms >= 0
    assert {"connect_ms", "ttfb_ms"} <= set(result.details)


@FORMS
def test_http_keyword_must_appear_or_must_not(form: str) -> None:
    with http_target() as target:
        assert run("http", target.url, {"keyword": "OK"}, form=form).up
        missing = run("http", target.url, {"keyword": "Welcome"}, form=form)
        present = run("http", target.url, {"keyword": "OK", "invert_keyword": True}, form=form)
        pattern = run("http", target.url, {"regex": r"systems\s+OK"}, form=form)
    assert (missing.up, missing.reason) == (False, "keyword 'Welcome' not found")
    assert (present.up, present.reason) == (False, "keyword 'OK' found, but it must not appear")
    assert pattern.up


@FORMS
def test_http_status_codes_and_redirects(form: str) -> None:
    with http_target() as target:
        server_error = run("http", f"{target.url}/status/503", form=form)
        accepted = run("http", f"{target.url}/status/503", {"expected_status": [200, "500-599"]}, form=form)
        followed = run("http", f"{target.url}/redirect", {"keyword": "OK"}, form=form)
        not_followed = run("http", f"{target.url}/redirect", {"follow_redirects": False}, form=form)
    assert (server_error.up, server_error.reason) == (False, "HTTP 503, expected 200-299")
    assert accepted.up
    assert followed.up and followed.details["status_code"] == 200
    assert (not_followed.up, not_followed.reason) == (False, "HTTP 302, expected 200-299")


@FORMS
def test_http_connection_refused_and_timeout_say_so(form: str) -> None:
    refused = run("http", f"http://127.0.0.1:{closed_port()}/", form=form)
    assert (refused.up, refused.reason) == (False, "connection refused")
    with http_target() as target:
        slow = run("http", f"{target.url}/slow", form=form, timeout=0.5)
    assert (slow.up, slow.reason) == (False, "timed out after 0.5 s")


@FORMS
def test_tcp_connect(form: str) -> None:
    with listening_port() as port:
        opened = run("tcp", f"127.0.0.1:{port}", form=form)
    refused = run("tcp", f"127.0.0.1:{closed_port()}", form=form)
    assert opened.up and opened.details["connect_ms"] == opened.delay_ms
    assert (refused.up, refused.reason) == (False, "connection refused")


@FORMS
def test_icmp_echo_to_loopback(form: str) -> None:
    result = run("icmp", "127.0.0.1", {"count": 2, "interval_ms": 50}, form=form)
    assert result.up, result.reason
    assert result.details["packets_received"] == 2 and result.details["loss_percent"] == 0.0
    assert result.details["rtt_min_ms"] <= result.details["rtt_avg_ms"] <= result.details["rtt_max_ms"]


@FORMS
def test_dns_answer_expected_and_nxdomain(form: str) -> None:
    records = {("app.heron.test", "A"): ["10.1.2.3", "10.1.2.4"], ("heron.test", "MX"): ["10 mail.heron.test."]}
    with dns_target(records) as resolver:
        found = run("dns", "app.heron.test", {"resolver": resolver, "expected": "10.1.2.4"}, form=form)
        mx = run("dns", "heron.test", {"resolver": resolver, "record_type": "MX"}, form=form)
        wrong = run("dns", "app.heron.test", {"resolver": resolver, "expected": "10.9.9.9"}, form=form)
        missing = run("dns", "nothing.heron.test", {"resolver": resolver}, form=form)
    assert found.up and found.details["answer"] == "10.1.2.3, 10.1.2.4"
    assert mx.up and mx.details["answer"] == "10 mail.heron.test."
    assert (wrong.up, wrong.reason) == (False, "expected '10.9.9.9' among the answers, got 10.1.2.3, 10.1.2.4")
    assert (missing.up, missing.reason) == (False, "nothing.heron.test does not exist (NXDOMAIN)")


@pytest.mark.parametrize(
    ("kind", "target", "options", "message"),
    [
        ("http", "example.com", {}, "target: expected a URL starting with http:// or https://"),
        ("http", "ftp://example.com/", {}, "target: expected a URL starting with http:// or https://"),
        ("http", "http://127.0.0.1:70000/", {}, "target: "),
        ("http", "http://127.0.0.1/", {"method": "BREW"}, "options.method: expected one of"),
        ("http", "http://127.0.0.1/", {"expected_status": ["2xx"]}, "options.expected_status:"),
        ("http", "http://127.0.0.1/", {"regex": "("}, "options.regex: not a valid regular expression"),
        ("http", "http://127.0.0.1/", {"headers": {"X-A": "1\r\nX-B: 2"}}, "options.headers:"),
        ("http", "http://127.0.0.1/", {"color": "red"}, "options: unknown option(s) color"),
        ("tcp", "127.0.0.1", {}, "target: expected host:port"),
        ("tcp", "127.0.0.1:0", {}, "target: port out of range: expected 1 to 65535, got '0'"),
        ("tcp", "127.0.0.1:65536", {}, "target: port out of range"),
        ("tcp", "[::1:80", {}, "target: expected [IPv6]:port"),
        ("icmp", "", {}, "target: a host name or IP address is required"),
        ("icmp", "127.0.0.1", {"count": 0}, "options.count: expected 1 to 20"),
        ("dns", "heron.test", {"record_type": "XYZ"}, "options.record_type: expected one of"),
        ("dns", "heron.test", {"resolver": "resolver.example"}, "options.resolver: expected an IP address"),
        ("ping", "127.0.0.1", {}, "type: unknown monitor kind 'ping'"),
    ],
)
def test_bad_targets_and_options_name_the_field(kind: str, target: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        checks.validate(kind, target, options)
    assert caught.value.message.startswith(message), caught.value.message


@pytest.mark.parametrize(
    ("euid", "groups", "text", "expected"),
    [
        (0, [0], "1\t0\n", True),  # root: raw sockets, whatever the range says
        (1000, [1000], "0\t2147483647\n", False),  # everyone may open datagram sockets
        (1000, [100, 1000], "100 100", False),
        (1000, [1000], "1\t0\n", None),  # the kernel's default range allows nobody
        (1000, [1000], None, None),  # no such file (not Linux)
    ],
)
def test_icmp_uses_raw_sockets_as_root_and_datagram_sockets_where_allowed(
    euid: int, groups: list[int], text: str | None, expected: bool | None
) -> None:
    if expected is None:
        with pytest.raises(IcmpUnavailable, match="ping_group_range"):
            privileged_mode(euid=euid, groups=groups, ping_group_range=text)
    else:
        assert privileged_mode(euid=euid, groups=groups, ping_group_range=text) is expected


DATAGRAM_PING = """
import time
from heron.probes.checks import icmp
from heron.probes.spec import ProbeSpec
assert icmp.privileged_mode(euid=1000, groups=[1000], ping_group_range=open(icmp.PING_GROUP_RANGE).read()) is False
echoes = icmp._echo("127.0.0.1", count=2, interval=0.05, timeout=2, privileged=False)
print(echoes.packets_sent, echoes.packets_received)
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None, reason="needs root, unshare, ip"
)
def test_icmp_over_unprivileged_datagram_sockets_where_the_kernel_allows_them() -> None:
    """In a network namespace of its own (so the host's sysctl stays as it is), with
    ping_group_range opened to every group, the agent's echo works over datagram sockets."""
    script = (
        "ip link set lo up && sysctl -qw net.ipv4.ping_group_range='0 2147483647' && "
        f"{shlex.quote(sys.executable)} -c {shlex.quote(DATAGRAM_PING)}"
    )
    done = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "2"]
