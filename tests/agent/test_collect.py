"""The agent's collectors, on this host and on a recorded one; its backlog and backoff."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from heron.agent.collect import StatusCollector, _sockstat_counts, cpu_models, host_info, virtualization
from heron.agent.transport import Backlog, backoff_delays, ws_url
from heron.inventory.live import HOST_FIELDS, STATUS_FIELDS

NEZHA_V0_HOST_KEYS = {
    "Platform", "PlatformVersion", "CPU", "MemTotal", "DiskTotal", "SwapTotal", "Arch", "Virtualization", "BootTime",
    "Version",
}  # fmt: skip


class RecordedHost:
    """psutil's functions the status collector calls, answering recorded values (one host, two reports)."""

    def __init__(self) -> None:
        self.received, self.sent = 1_000, 5_000

    def cpu_percent(self, interval: None = None) -> float:
        return 12.5

    def net_io_counters(self) -> Any:
        return SimpleNamespace(bytes_recv=self.received, bytes_sent=self.sent)

    def getloadavg(self) -> tuple[float, float, float]:
        return (0.5, 0.25, 0.125)

    def virtual_memory(self) -> Any:
        return SimpleNamespace(total=8_000, available=3_000)

    def swap_memory(self) -> Any:
        return SimpleNamespace(total=2_000, used=100)

    def disk_partitions(self, all: bool = False) -> list[Any]:
        return [
            SimpleNamespace(device="/dev/sda1", mountpoint="/", fstype="ext4"),
            SimpleNamespace(device="/dev/sda1", mountpoint="/srv", fstype="ext4"),
            SimpleNamespace(device="tmpfs", mountpoint="/run", fstype="tmpfs"),
        ]

    def disk_usage(self, path: str) -> Any:
        return SimpleNamespace(total=100_000, used=40_000)

    def boot_time(self) -> float:
        return 1_700_000_000.0

    def net_connections(self, kind: str) -> list[int]:
        return [1, 2, 3] if kind == "tcp" else [1]

    def pids(self) -> list[int]:
        return list(range(42))

    def sensors_temperatures(self) -> dict[str, list[Any]]:
        return {"coretemp": [SimpleNamespace(label="Core 0", current=51.0)]}


def test_speeds_are_bytes_per_second_between_two_reports_and_zero_at_first(tmp_path: Path) -> None:
    recorded, clock = RecordedHost(), iter([10.0, 12.0])
    collector = StatusCollector(recorded, root=tmp_path, clock=lambda: next(clock))
    first = collector.collect()
    assert first["NetInSpeed"] == first["NetOutSpeed"] == 0
    recorded.received += 4_000
    recorded.sent += 1_000
    second = collector.collect()
    assert (second["NetInSpeed"], second["NetOutSpeed"]) == (2_000, 500)
    assert second["NetInTransfer"] == 5_000 and second["NetOutTransfer"] == 6_000
    assert second["DiskUsed"] == 40_000, "a device mounted twice counts once; tmpfs not at all"
    assert (second["MemUsed"], second["SwapUsed"], second["CPU"]) == (5_000, 100, 12.5)
    assert (second["TcpConnCount"], second["UdpConnCount"], second["ProcessCount"]) == (3, 1, 42)
    assert second["Temperatures"] == [{"Name": "coretemp_Core 0", "Temperature": 51.0}]


def test_this_host_reports_every_nezha_field_with_its_type() -> None:
    host = host_info()
    assert set(host) >= NEZHA_V0_HOST_KEYS and set(host) == set(HOST_FIELDS)
    assert host["MemTotal"] > 0 and host["DiskTotal"] > 0 and host["BootTime"] > 0 and host["Platform"]
    assert host["CPU"] and all(isinstance(c, str) for c in host["CPU"])
    status = StatusCollector().collect()
    assert set(STATUS_FIELDS) <= set(status)
    assert status["MemUsed"] > 0 and status["ProcessCount"] > 0 and status["Uptime"] > 0
    for key, (kind, _column) in STATUS_FIELDS.items():
        assert isinstance(status[key], kind), key


def test_connections_are_counted_from_the_kernels_tables(tmp_path: Path) -> None:
    (tmp_path / "proc/net").mkdir(parents=True)
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    row = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
    (tmp_path / "proc/net/tcp").write_text(header + row * 3)
    (tmp_path / "proc/net/tcp6").write_text(header + row)
    (tmp_path / "proc/net/udp").write_text(header)
    status = StatusCollector(RecordedHost(), root=tmp_path).collect()
    assert (status["TcpConnCount"], status["UdpConnCount"]) == (4, 0)


def test_connections_are_read_from_the_kernels_counters_when_it_has_them(tmp_path: Path) -> None:
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/sockstat").write_text(
        "sockets: used 3482\nTCP: inuse 3461 orphan 0 tw 659 alloc 3464 mem 1703\nUDP: inuse 3 mem 0\n"
        "UDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n"
    )
    (tmp_path / "proc/net/sockstat6").write_text("TCP6: inuse 2\nUDP6: inuse 1\nUDPLITE6: inuse 0\n")
    (tmp_path / "proc/net/tcp").write_text("these tables are not read when the counters are there\n" * 9)
    status = StatusCollector(RecordedHost(), root=tmp_path).collect()
    assert (status["TcpConnCount"], status["UdpConnCount"]) == (3461 + 659 + 2, 3 + 1)


def test_on_this_host_the_counters_and_the_tables_agree() -> None:
    """Rows of /proc/net/tcp{,6} and udp{,6} against sockstat; sockets come and go between the reads."""
    root = Path("/")
    counters = _sockstat_counts(root)
    if counters is None:
        pytest.skip("no /proc/net/sockstat on this host")
    for kind in ("tcp", "udp"):
        rows = sum(
            max(0, len(Path(f"/proc/net/{name}").read_text().splitlines()) - 1)
            for name in (kind, kind + "6")
            if Path(f"/proc/net/{name}").exists()
        )
        assert abs(counters[kind] - rows) <= max(20, rows // 20), kind


def test_on_this_host_the_tables_and_psutil_count_about_the_same() -> None:
    import psutil

    counted = StatusCollector().collect()["TcpConnCount"]
    assert abs(counted - len(psutil.net_connections(kind="tcp"))) <= 20


def test_cpu_models_and_virtualization_read_a_recorded_tree(tmp_path: Path) -> None:
    (tmp_path / "proc/1").mkdir(parents=True)
    (tmp_path / "proc/cpuinfo").write_text("model name\t: Example CPU @ 2.0GHz\n\nmodel name\t: Example CPU @ 2.0GHz\n")
    (tmp_path / "proc/1/cgroup").write_text("0::/\n")
    (tmp_path / "sys/class/dmi/id").mkdir(parents=True)
    (tmp_path / "sys/class/dmi/id/product_name").write_text("KVM\n")
    assert cpu_models(tmp_path) == ["Example CPU @ 2.0GHz 2 Virtual Core"]
    assert virtualization(tmp_path) == "kvm"
    (tmp_path / ".dockerenv").touch()
    assert virtualization(tmp_path) == "docker"


def test_the_backlog_keeps_the_newest_reports_when_full() -> None:
    backlog = Backlog(limit=3)
    for n in range(5):
        backlog.add({"n": n})
    assert [r["n"] for r in backlog.items] == [2, 3, 4] and backlog.dropped == 2


def test_unacknowledged_reports_go_back_first_and_the_limit_still_holds() -> None:
    from collections import deque

    backlog = Backlog(limit=3)
    backlog.add({"n": 3})
    backlog.add({"n": 4})
    backlog.requeue(deque([{"n": 1}, {"n": 2}]))
    assert [r["n"] for r in backlog.items] == [2, 3, 4] and backlog.dropped == 1


def test_backoff_grows_to_the_cap_with_jitter() -> None:
    delays = backoff_delays(base_seconds=1, cap_seconds=8, rng=random.Random(7))
    taken = [next(delays) for _ in range(40)]
    for attempt, delay in enumerate(taken):
        assert 0 <= delay <= min(8, 2**attempt)
    assert len(set(taken)) == len(taken), "jittered, never the same delay twice"
    assert max(taken[10:]) > 4, "later delays use the whole range up to the cap"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8902", "ws://127.0.0.1:8902/api/v1/agent/ws"),
        ("https://mon.example/", "wss://mon.example/api/v1/agent/ws"),
        ("mon:8902", "ws://mon:8902/api/v1/agent/ws"),
    ],
)
def test_the_server_url_becomes_the_agent_endpoint(url: str, expected: str) -> None:
    assert ws_url(url) == expected
