"""What the agent does for the command channel: run a command, a terminal, file transfers, a tunnel.

Imported by :mod:`heron.agent.commands` only when the first allowed operation arrives, and
each handler imports what it needs itself (``subprocess``, ``pty``, ``socket``), so an agent
whose owner allowed nothing never loads any of it.

Nothing here writes what it carries (command output, keystrokes, file contents, tunnelled
bytes) to the log: the log names the operation and its outcome only.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from pathlib import Path
from typing import Any

from heron.agent.commands import MAX_FRAME_BYTES, Cancelled, Handler, OpError, Stream
from heron.agent.options import AgentOptions
from heron.core.errors import HeronError

#: Longest command accepted.
MAX_COMMAND_CHARS = 64 * 1024
#: Output of a command kept and returned (the rest is counted, not kept).
DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
DEFAULT_EXEC_TIMEOUT_SECONDS = 3600.0
#: Entries a directory listing returns at most.
MAX_LIST_ENTRIES = 10_000
#: Terminal sizes accepted (Nezha's bounds).
COLS_RANGE = (2, 1000)
ROWS_RANGE = (2, 500)
CONNECT_TIMEOUT_SECONDS = 10.0
#: How long a hung-up shell gets to exit before it is killed.
SHELL_EXIT_SECONDS = 5.0


def handlers(options: AgentOptions) -> dict[str, Handler]:
    """One handler per operation kind, bound to the owner's options."""
    return {
        "exec": lambda s: run_command(s, options),
        "pty": lambda s: run_terminal(s, options),
        "file.list": lambda s: list_directory(s, options),
        "file.read": lambda s: read_file(s, options),
        "file.write": lambda s: write_file(s, options),
        "tunnel": lambda s: run_tunnel(s, options),
        "config.get": lambda s: options.public(),
        "config.set": lambda s: _config_set(s, options),
    }


def _config_set(stream: Stream, options: AgentOptions) -> dict[str, Any]:
    try:
        return options.apply_remote(stream.args.get("config") or {})
    except HeronError as exc:
        raise OpError("refused", exc.message) from None


def _home() -> str:
    return os.path.expanduser("~")


# -- commands --------------------------------------------------------------------------------


def run_command(stream: Stream, options: AgentOptions) -> dict[str, Any]:
    """``sh -c command`` (as Nezha's agent runs them), output and error merged, with a time limit."""
    import signal
    import subprocess

    command = stream.args.get("command")
    if not isinstance(command, str) or not command.strip():
        raise OpError("bad_request", "command must be a non-empty string")
    if len(command) > MAX_COMMAND_CHARS:
        raise OpError("bad_request", f"command is over {MAX_COMMAND_CHARS} characters")
    timeout = _number(stream.args.get("timeout"), DEFAULT_EXEC_TIMEOUT_SECONDS, 0.1, 86400.0)
    keep = int(_number(stream.args.get("max_output_bytes"), DEFAULT_MAX_OUTPUT_BYTES, 0, MAX_OUTPUT_BYTES))
    started = time.monotonic()
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=_home(),
        start_new_session=True,
    )
    assert proc.stdout is not None
    kept = bytearray()
    total = 0
    timed_out = False
    fd = proc.stdout.fileno()
    try:
        while True:
            left = started + timeout - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            if stream.cancelled.is_set():
                raise Cancelled()
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            total += len(chunk)
            if len(kept) < keep:
                kept += chunk[: keep - len(kept)]
    finally:
        if proc.poll() is None and (timed_out or stream.cancelled.is_set()):
            _kill_group(proc.pid, signal.SIGKILL)
        proc.stdout.close()
    try:
        code = proc.wait(timeout=5 if not timed_out else 1)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid, signal.SIGKILL)
        code = proc.wait()
    return {
        "exit_code": code,
        "output": kept.decode("utf-8", errors="replace"),
        "output_bytes": total,
        "truncated": total > len(kept),
        "timed_out": timed_out,
        "duration_ms": round((time.monotonic() - started) * 1000, 3),
    }


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _number(value: Any, default: float, low: float, high: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OpError("bad_request", f"expected a number, got {value!r}")
    return max(low, min(high, float(value)))


# -- the terminal ----------------------------------------------------------------------------


def run_terminal(stream: Stream, options: AgentOptions) -> dict[str, Any]:
    """A real PTY running the login shell of the user the agent runs as, until either side ends it."""
    import fcntl
    import pty
    import pwd
    import signal
    import struct
    import termios

    entry = pwd.getpwuid(os.getuid())
    shell = entry.pw_shell or "/bin/sh"
    env = {
        "TERM": "xterm-256color",
        "HOME": entry.pw_dir,
        "USER": entry.pw_name,
        "LOGNAME": entry.pw_name,
        "SHELL": shell,
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the login shell at once ("-bash" as argv[0] means a login shell)
        try:
            os.chdir(entry.pw_dir)
            os.execve(shell, ["-" + os.path.basename(shell)], env)
        finally:
            os._exit(127)

    def resize(msg: dict[str, Any]) -> None:
        cols, rows = msg.get("cols"), msg.get("rows")
        if not isinstance(cols, int) or not isinstance(rows, int):
            return
        if COLS_RANGE[0] <= cols <= COLS_RANGE[1] and ROWS_RANGE[0] <= rows <= ROWS_RANGE[1]:
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    if isinstance(stream.args.get("cols"), int):
        resize(stream.args)
    stream.on_control = lambda msg: resize(msg) if msg.get("type") == "op.resize" else None
    stream.reply({"shell": shell, "pid": pid})
    counts = {"in": 0, "out": 0}

    def pump_output() -> None:
        try:
            while True:
                try:
                    data = os.read(fd, MAX_FRAME_BYTES)
                except OSError:  # EIO: the shell exited and the PTY closed
                    break
                if not data:
                    break
                counts["out"] += len(data)
                stream.send(data)
        except Cancelled:
            pass
        finally:
            stream._cancel()  # the shell is gone: end the input side too

    reader = threading.Thread(target=pump_output, name="heron-pty-out", daemon=True)
    reader.start()
    try:
        while True:
            try:
                data = stream.read(timeout=1.0)
            except Cancelled:
                break
            if data is None:
                break
            if data:
                counts["in"] += len(data)
                _write_all(fd, data)
    finally:
        # SIGHUP first, as a terminal hang-up: the shell and its jobs run their exit traps
        # (a SIGKILL at once leaves their lock files behind, e.g. pyenv's rehash lock).
        _kill_group(pid, signal.SIGHUP)
        reader.join(timeout=SHELL_EXIT_SECONDS)
        if reader.is_alive():
            _kill_group(pid, signal.SIGKILL)
            reader.join(timeout=2)
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return {"exit_code": os.waitstatus_to_exitcode(status), "bytes_in": counts["in"], "bytes_out": counts["out"]}


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# -- files -----------------------------------------------------------------------------------


def confine(raw: Any, roots: tuple[Path, ...]) -> Path:
    """The real path of ``raw`` (symlinks resolved), refused unless it lies within ``roots``.

    A relative path is taken from the first root; an empty one is the first root itself.
    """
    if raw is not None and not isinstance(raw, str):
        raise OpError("bad_request", "path must be a string")
    if raw and "\0" in raw:
        raise OpError("bad_request", "path must not contain NUL")
    path = Path(raw) if raw else roots[0]
    if not path.is_absolute():
        path = roots[0] / path
    real = Path(os.path.realpath(path))
    if any(real == root or root in real.parents for root in roots):
        return real
    served = ", ".join(str(r) for r in roots)
    raise OpError("outside", f"path {raw} is outside the directories this agent serves ({served})")


def list_directory(stream: Stream, options: AgentOptions) -> dict[str, Any]:
    """The entries of a directory (name, whether a directory, size, modification time)."""
    path = confine(stream.args.get("path"), options.files_roots)
    try:
        scanned = os.scandir(path)
    except FileNotFoundError:
        raise OpError("not_found", f"path {path} does not exist") from None
    except NotADirectoryError:
        raise OpError("bad_request", f"path {path} is not a directory") from None
    except PermissionError:
        raise OpError("forbidden", f"the agent may not read {path}") from None
    entries: list[dict[str, Any]] = []
    truncated = False
    with scanned:
        for entry in scanned:
            if len(entries) >= MAX_LIST_ENTRIES:
                truncated = True
                break
            try:
                info = entry.stat(follow_symlinks=False)
                is_dir = entry.is_dir()
            except OSError:
                continue
            entries.append({"name": entry.name, "dir": is_dir, "size": info.st_size, "mtime": int(info.st_mtime)})
    entries.sort(key=lambda e: (not e["dir"], e["name"]))
    return {"path": str(path), "entries": entries, "truncated": truncated}


def read_file(stream: Stream, options: AgentOptions) -> dict[str, Any]:
    """Send a regular file in chunks, its size first (memory stays at one chunk)."""
    import stat

    path = confine(stream.args.get("path"), options.files_roots)
    try:
        handle = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below, after streaming
    except FileNotFoundError:
        raise OpError("not_found", f"path {path} does not exist") from None
    except PermissionError:
        raise OpError("forbidden", f"the agent may not read {path}") from None
    except IsADirectoryError:
        raise OpError("bad_request", f"path {path} is a directory") from None
    with handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OpError("bad_request", f"path {path} is not a regular file")
        stream.reply({"path": str(path), "size": info.st_size})
        sent = 0
        while True:
            chunk = handle.read(MAX_FRAME_BYTES)
            if not chunk:
                break
            stream.send(chunk)
            sent += len(chunk)
    stream.channel.queue_data(stream.id, b"")
    return {"path": str(path), "bytes": sent}


def write_file(stream: Stream, options: AgentOptions) -> dict[str, Any]:
    """Receive a file into a temporary file beside the target, then rename it into place.

    The parent directory must lie within the served roots and the target must not be a
    symlink or a directory; a transfer that ends early (cancelled, or fewer bytes than the
    announced ``size``) leaves the old file as it was.
    """
    raw = stream.args.get("path")
    if not isinstance(raw, str) or not raw or raw.endswith("/"):
        raise OpError("bad_request", "path must name a file")
    roots = options.files_roots
    target = Path(raw) if Path(raw).is_absolute() else roots[0] / raw
    parent = confine(str(target.parent), roots)
    final = parent / target.name
    if final.is_symlink() or final.is_dir():
        raise OpError("bad_request", f"path {raw} is a symlink or a directory; it is not replaced")
    size = stream.args.get("size")
    expected = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
    temp = parent / f".{target.name}.heron-upload-{stream.id}"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileNotFoundError:
        raise OpError("not_found", f"directory {parent} does not exist") from None
    except PermissionError:
        raise OpError("forbidden", f"the agent may not write in {parent}") from None
    received = 0
    done = False
    try:
        stream.reply({"path": str(final)})
        while True:
            data = stream.read()
            if data is None:
                break
            received += len(data)
            if expected is not None and received > expected:
                raise OpError("bad_request", f"more than the announced {expected} bytes arrived")
            _write_all(fd, data)
        if expected is not None and received != expected:
            raise OpError("bad_request", f"{received} bytes arrived of the announced {expected}")
        os.fsync(fd)
        done = True
    finally:
        os.close(fd)
        if done:
            os.replace(temp, final)
        else:
            os.unlink(temp)
    return {"path": str(final), "bytes": received}


# -- NAT -------------------------------------------------------------------------------------


def run_tunnel(stream: Stream, options: AgentOptions) -> dict[str, Any]:
    """Connect to ``host`` (``name:port`` on the agent's network) and carry bytes both ways."""
    import socket

    host = stream.args.get("host")
    if not isinstance(host, str) or ":" not in host:
        raise OpError("bad_request", "host must be name:port")
    name, _, port_text = host.rpartition(":")
    name = name.strip("[]")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536 or not name:
        raise OpError("bad_request", f"host {host!r} is not name:port")
    try:
        sock = socket.create_connection((name, int(port_text)), timeout=CONNECT_TIMEOUT_SECONDS)
    except OSError as exc:
        raise OpError("unreachable", f"cannot connect to {host}: {exc.strerror or exc}") from None
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if stream.args.get("reply", True):  # NAT requests do not wait for it
        stream.reply({"host": host})
    counts = {"up": 0, "down": 0}

    def pump_down() -> None:
        try:
            while True:
                data = sock.recv(MAX_FRAME_BYTES)
                if not data:
                    break
                counts["down"] += len(data)
                stream.send(data)
            stream.channel.queue_data(stream.id, b"")
        except (OSError, Cancelled):
            stream._cancel()

    reader = threading.Thread(target=pump_down, name="heron-tunnel", daemon=True)
    reader.start()
    try:
        while True:
            data = stream.read()
            if data is None:
                sock.shutdown(socket.SHUT_WR)
                break
            counts["up"] += len(data)
            sock.sendall(data)
        reader.join()
    except (OSError, Cancelled):
        pass
    finally:
        sock.close()
        reader.join(timeout=2)
    return {"bytes_up": counts["up"], "bytes_down": counts["down"]}
