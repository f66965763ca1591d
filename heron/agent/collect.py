"""What the agent reports: Nezha's ``host`` block once per connection, its ``status`` block every interval.

Keys are Nezha's (``Platform``, ``MemUsed``, ``NetInSpeed`` ...), so the server can hand them
to Nezha clients unchanged. Everything that touches the OS takes its source as a parameter:
``ps`` is the psutil module (or anything with the same functions), ``root`` the file-system
root that ``/proc``, ``/etc`` and ``/sys`` are read under, so tests run on recorded values.
Collection never uses the network: addresses are the interfaces' own.
"""

from __future__ import annotations

import ipaddress
import os
import platform
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from heron import __version__

#: File systems that are not disks a user fills (psutil lists them with ``all=True`` only, but
#: some distributions mount these as devices too).
VIRTUAL_FS = frozenset({"tmpfs", "devtmpfs", "squashfs", "overlay", "proc", "sysfs", "cgroup", "cgroup2", "nsfs"})

#: Products in /sys/class/dmi/id that name a hypervisor, and the name Nezha's agent reports.
_DMI_VIRT = (
    ("kvm", "kvm"),
    ("qemu", "kvm"),
    ("vmware", "vmware"),
    ("virtualbox", "vbox"),
    ("hvm domu", "xen"),
    ("hyper-v", "hyperv"),
    ("virtual machine", "hyperv"),
    ("bochs", "bochs"),
)


def _read(root: Path, relative: str) -> str:
    try:
        return (root / relative).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _platform(root: Path) -> tuple[str, str]:
    """Distribution id and version from os-release (``debian``, ``12``), as Nezha shows them."""
    fields: dict[str, str] = {}
    for line in (_read(root, "etc/os-release") or _read(root, "usr/lib/os-release")).splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip('"')
    if fields.get("ID"):
        return fields["ID"], fields.get("VERSION_ID", "")
    return platform.system().lower(), platform.release()


def cpu_models(root: Path = Path("/"), *, logical: int | None = None) -> list[str]:
    """One entry per CPU model: ``"<model> <n> Virtual Core"`` (Nezha's form)."""
    models = Counter(
        line.partition(":")[2].strip()
        for line in _read(root, "proc/cpuinfo").splitlines()
        if line.lower().startswith(("model name", "hardware"))
    )
    if not models:
        name = platform.processor() or platform.machine()
        return [f"{name} {logical or os.cpu_count() or 1} Virtual Core"] if name else []
    return [f"{model} {count} Virtual Core" for model, count in models.items()]


def virtualization(root: Path = Path("/")) -> str:
    """Container or hypervisor the host runs in, empty on bare metal or when unknown."""
    if (root / ".dockerenv").exists():
        return "docker"
    if (root / "run/.containerenv").exists():
        return "podman"
    cgroup = _read(root, "proc/1/cgroup")
    for name in ("docker", "lxc", "kubepods"):
        if name in cgroup:
            return "docker" if name == "kubepods" else name
    product = (_read(root, "sys/class/dmi/id/product_name") + _read(root, "sys/class/dmi/id/sys_vendor")).lower()
    for needle, name in _DMI_VIRT:
        if needle in product:
            return name
    return ""


def addresses(ps: Any = psutil) -> tuple[str, str]:
    """The first global IPv4 and IPv6 address of the host's interfaces (empty when none)."""
    ipv4 = ipv6 = ""
    for addrs in ps.net_if_addrs().values():
        for addr in addrs:
            try:
                ip = ipaddress.ip_address(addr.address.split("%")[0])
            except ValueError:
                continue
            if ip.is_loopback or ip.is_link_local or ip.is_multicast:
                continue
            if ip.version == 4 and not ipv4:
                ipv4 = str(ip)
            elif ip.version == 6 and not ipv6:
                ipv6 = str(ip)
    return ipv4, ipv6


def _disks(ps: Any) -> list[Any]:
    """Usage of each physical disk once (a device mounted twice counts once)."""
    seen: set[str] = set()
    usages = []
    for part in ps.disk_partitions(all=False):
        if part.fstype in VIRTUAL_FS or part.device in seen:
            continue
        seen.add(part.device)
        try:
            usages.append(ps.disk_usage(part.mountpoint))
        except OSError:
            continue
    if not usages:
        # Containers often show only an overlay root: its size is still what the user sees.
        usages.append(ps.disk_usage("/"))
    return usages


def host_info(ps: Any = psutil, root: Path = Path("/")) -> dict[str, Any]:
    """Nezha's ``host`` block, plus ``IPv4``/``IPv6`` and ``GPU`` (empty without a GPU source)."""
    name, version = _platform(root)
    ipv4, ipv6 = addresses(ps)
    return {
        "Platform": name,
        "PlatformVersion": version,
        "CPU": cpu_models(root, logical=ps.cpu_count()),
        "MemTotal": int(ps.virtual_memory().total),
        "DiskTotal": int(sum(d.total for d in _disks(ps))),
        "SwapTotal": int(ps.swap_memory().total),
        "Arch": platform.machine(),
        "Virtualization": virtualization(root),
        "BootTime": int(ps.boot_time()),
        "Version": __version__,
        "GPU": [],
        "IPv4": ipv4,
        "IPv6": ipv6,
    }


def _sockstat_counts(root: Path) -> dict[str, int] | None:
    """TCP and UDP sockets from /proc/net/sockstat and sockstat6; None where they are missing or odd.

    ``TCP: inuse`` (IPv4) plus ``TCP6: inuse`` plus ``tw`` (the TIME_WAIT sockets of both
    families) is the number of rows of /proc/net/tcp and tcp6, but the kernel keeps these as
    counters: reading them costs microseconds where rendering the tables costs about 4 ms per
    thousand sockets, most of a report's CPU on a busy server.
    """
    text = _read(root, "proc/net/sockstat")
    if not text:
        return None
    fields: dict[str, dict[str, str]] = {}
    for line in (text + _read(root, "proc/net/sockstat6")).splitlines():
        proto, _, rest = line.partition(":")
        values = rest.split()
        fields[proto.strip()] = dict(zip(values[::2], values[1::2], strict=False))
    try:
        tcp = int(fields["TCP"]["inuse"]) + int(fields["TCP"]["tw"]) + int(fields.get("TCP6", {}).get("inuse", 0))
        udp = int(fields["UDP"]["inuse"]) + int(fields.get("UDP6", {}).get("inuse", 0))
    except (KeyError, ValueError):
        return None
    return {"tcp": tcp, "udp": udp}


def _connections(ps: Any, kind: str, root: Path) -> int:
    """Sockets of ``kind`` (``tcp``/``udp``, IPv4 and IPv6, listening ones included).

    On Linux the kernel's counters in /proc/net/sockstat are read (see :func:`_sockstat_counts`),
    else its tables in /proc/net are counted: psutil's ``net_connections`` also maps every
    socket to its process by walking each process's file descriptors, which costs most of a
    report's CPU on a busy host and is not needed here.
    """
    counts = _sockstat_counts(root)
    if counts is not None:
        return counts[kind]
    tables = [root / "proc/net" / name for name in (kind, kind + "6")]
    if tables[0].exists():
        total = 0
        for table in tables:
            text = _read(root, str(table.relative_to(root)))
            total += max(0, len(text.splitlines()) - 1)  # the first line is a header
        return total
    try:
        return len(ps.net_connections(kind=kind))
    except (psutil.AccessDenied, OSError):
        return 0


def _temperatures(ps: Any) -> list[dict[str, Any]]:
    reader = getattr(ps, "sensors_temperatures", None)
    if reader is None:
        return []
    try:
        sensors = reader()
    except (OSError, RuntimeError):
        return []
    out = []
    for chip, entries in sensors.items():
        for entry in entries:
            label = f"{chip}_{entry.label}" if entry.label else chip
            out.append({"Name": label, "Temperature": round(float(entry.current), 2)})
    return out


class StatusCollector:
    """Collects Nezha's ``status`` block; keeps the last network counters to compute speeds.

    Speeds are bytes per second between two calls, so the first report has speed 0: a
    speed made up from a single sample would be the average since boot, not "now".
    """

    def __init__(self, ps: Any = psutil, *, root: Path = Path("/"), clock: Any = time.monotonic) -> None:
        self._ps = ps
        self._root = root
        self._clock = clock
        self._last: tuple[float, int, int] | None = None
        #: Collectors the owner switched off (``temperature``, ``connections``, ``processes``): reported as 0 / empty.
        self.disabled: frozenset[str] = frozenset()
        ps.cpu_percent(interval=None)  # primes the counter: the next call measures since now

    def collect(self) -> dict[str, Any]:
        ps = self._ps
        now = self._clock()
        net = ps.net_io_counters()
        rx, tx = int(net.bytes_recv), int(net.bytes_sent)
        in_speed = out_speed = 0
        if self._last is not None:
            then, last_rx, last_tx = self._last
            elapsed = now - then
            if elapsed > 0:
                in_speed = max(0, round((rx - last_rx) / elapsed))
                out_speed = max(0, round((tx - last_tx) / elapsed))
        self._last = (now, rx, tx)
        load1, load5, load15 = ps.getloadavg()
        memory = ps.virtual_memory()
        return {
            "CPU": round(float(ps.cpu_percent(interval=None)), 2),
            "MemUsed": int(memory.total - memory.available),
            "SwapUsed": int(ps.swap_memory().used),
            "DiskUsed": int(sum(d.used for d in _disks(ps))),
            "NetInTransfer": rx,
            "NetOutTransfer": tx,
            "NetInSpeed": in_speed,
            "NetOutSpeed": out_speed,
            "Uptime": max(0, int(time.time() - ps.boot_time())),
            "Load1": round(float(load1), 2),
            "Load5": round(float(load5), 2),
            "Load15": round(float(load15), 2),
            "TcpConnCount": 0 if "connections" in self.disabled else _connections(ps, "tcp", self._root),
            "UdpConnCount": 0 if "connections" in self.disabled else _connections(ps, "udp", self._root),
            "ProcessCount": 0 if "processes" in self.disabled else len(ps.pids()),
            "Temperatures": [] if "temperature" in self.disabled else _temperatures(ps),
            "GPU": [],
        }
