"""How the embedded broker's process is watched: ports, its first answer, its threads.

The probes :class:`vasscm.live.tools.broker.EmbeddedBroker` waits on: a port nobody holds,
a Kafka ApiVersions answer (a TCP connect is accepted by the kernel before the broker
answers anything), every thread stopped after SIGSTOP; and the parent-death signal
that keeps a child process from outliving us on Linux.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import struct
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "all_threads_stopped",
    "answers_api_versions",
    "die_with_parent",
    "free_port",
    "port_is_free",
]

HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_API_VERSIONS = 18  # Kafka API key of ApiVersions, the first request every client sends


def free_port(host: str = HOST) -> int:
    """A TCP port nobody is bound to right now (racy by nature: use it soon)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    # SO_REUSEADDR as the broker binds, so TIME_WAIT leftovers of a stopped broker don't count.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGKILL the child when its parent dies; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, not in the child
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl: no signal will come
            os._exit(1)

    return preexec


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        data += chunk
    return data


def answers_api_versions(host: str, port: int, timeout: float) -> bool:
    """True when a Kafka ApiVersions v0 request on host:port gets a well-formed, error-free reply.

    A bare TCP connect is not enough: the kernel accepts connections for a process
    that is still starting (or is SIGSTOPped) without the broker answering anything.
    """
    correlation, client = 0x76617373, b"vasscm-probe"
    request = struct.pack(">hhih", _API_VERSIONS, 0, correlation, len(client)) + client
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            _size, echoed, error = struct.unpack(">iih", _recv_exact(sock, 10))
    except OSError:
        return False
    return bool(echoed == correlation and error == 0)


def all_threads_stopped(pid: int) -> bool:
    """Every thread of ``pid`` is stopped (state T in /proc); True where there is no
    /proc to ask (the signal is then all there is)."""
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        return True
    for task in tasks.iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        if stat.rsplit(")", 1)[1].split()[0] not in ("T", "t"):
            return False
    return True
