"""A real single-node Apache Kafka (KRaft) for tests and the quick start.

The jars come from Maven Central through `deploy/kafka/pom.xml`; nothing is mocked, so what
passes here passes against a production cluster speaking the same protocol.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from core.settings import REPO_ROOT, ConfigError, default_cache_dir

log = logging.getLogger("watchfloor.broker")

POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
DEFAULT_HEAP = "512m"


def jars_dir() -> Path:
    return default_cache_dir() / "kafka" / "lib"


def ensure_jars(lib: Path | None = None) -> Path:
    """Fetch the broker's jars with Maven on first use; later calls cost a directory listing."""
    lib = lib or jars_dir()
    if any(lib.glob("kafka_2.13-*.jar")):
        return lib
    if not POM.exists():
        raise ConfigError(f"cannot fetch the Kafka jars: {POM} is missing (run from a Watchfloor checkout)")
    if shutil.which("mvn") is None:
        raise ConfigError("cannot fetch the Kafka jars: Maven (`mvn`) is not on PATH")
    if shutil.which("java") is None:
        raise ConfigError("cannot run the Kafka broker: Java 17+ (`java`) is not on PATH")
    lib.mkdir(parents=True, exist_ok=True)
    log.info("fetching Kafka jars with Maven into %s", lib)
    tmp = lib.with_name(lib.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    proc = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={tmp}"],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise ConfigError(f"Maven could not fetch the Kafka jars:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    for jar in tmp.iterdir():
        jar.replace(lib / jar.name)
    tmp.rmdir()
    return lib


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster_id() -> str:
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _die_with_parent() -> None:
    """Runs in the child before exec: the broker dies if the Python process that owns it dies."""
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


_LOG4J = """\
status = error
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
"""


@dataclass(frozen=True)
class SaslSslListener:
    """An extra SASL_SSL listener, as managed clusters have: TLS with a PEM keystore (unencrypted
    PKCS#8 key followed by the certificate chain) and users for PLAIN and SCRAM-SHA-256/512.
    SCRAM users are written when the storage is formatted, so use it on a fresh data dir."""

    port: int
    keystore_pem: Path
    users: dict[str, str]


class EmbeddedBroker:
    """Formats a data dir once, runs `kafka.Kafka` on it, and stops it with SIGTERM."""

    def __init__(self, data_dir: Path, port: int = 9092, heap: str = DEFAULT_HEAP,
                 sasl_ssl: SaslSslListener | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.heap = heap
        self.sasl_ssl = sasl_ssl
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write_config(self, controller_port: int) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        logs = self.data_dir / "logs"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(logs),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.segment.bytes": str(64 * 1024 * 1024),
            "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
        }
        if self.sasl_ssl:
            secure = self.sasl_ssl
            props["listeners"] += f",SASL_SSL://127.0.0.1:{secure.port}"
            props["advertised.listeners"] += f",SASL_SSL://127.0.0.1:{secure.port}"
            props["listener.security.protocol.map"] += ",SASL_SSL:SASL_SSL"
            prefix = "listener.name.sasl_ssl."
            plain_users = " ".join(f'user_{name}="{password}"' for name, password in secure.users.items())
            props.update({
                "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
                prefix + "ssl.keystore.type": "PEM",
                prefix + "ssl.keystore.location": str(secure.keystore_pem),
                prefix + "plain.sasl.jaas.config": f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};",
                prefix + "scram-sha-256.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                prefix + "scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            })
        path = self.data_dir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.data_dir / "log4j2.properties").write_text(_LOG4J)
        return path

    def _scram_args(self) -> list[str]:
        if not self.sasl_ssl:
            return []
        return [arg for name, password in self.sasl_ssl.users.items() for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512")
                for arg in ("--add-scram", f"{mech}=[name={name},password={password}]")]

    def _java(self, lib: Path, *args: str) -> list[str]:
        return [
            "java",
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            "-cp",
            f"{lib}/*",
            *args,
        ]

    def start(self, timeout: float = 60.0) -> str:
        """Returns the bootstrap address once *this* broker answers on its port.

        A busy port is refused up front, and readiness is the cluster id of our own storage
        answering, so whatever else may hold the port is never taken for the broker.
        """
        lib = ensure_jars()
        check_port_free(self.port)
        config = self._write_config(free_port())
        if not (self.data_dir / "logs" / "meta.properties").exists():
            fmt = subprocess.run(
                self._java(lib, "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(config),
                           *self._scram_args()),
                capture_output=True,
                text=True,
            )
            if fmt.returncode != 0:
                raise ConfigError(f"formatting Kafka storage in {self.data_dir} failed: {fmt.stdout}{fmt.stderr}")
        self.log_path = self.data_dir / "broker.log"
        out = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self._java(lib, "kafka.Kafka", str(config)),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise ConfigError(f"Kafka broker exited with code {self.proc.returncode}; log {self.log_path}:\n{tail}")
            if _accepts_clients(self.bootstrap, self.cluster_id()):
                return self.bootstrap
            time.sleep(0.3)
        self.stop()
        raise ConfigError(f"Kafka broker did not become ready within {timeout:.0f}s; see {self.log_path}")

    def cluster_id(self) -> str | None:
        """The id written into the storage when it was formatted (KRaft's meta.properties)."""
        try:
            text = (self.data_dir / "logs" / "meta.properties").read_text()
        except OSError:
            return None
        return next((line.split("=", 1)[1].strip() for line in text.splitlines() if line.startswith("cluster.id=")), None)

    def stop(self, timeout: float = 30.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """SIGKILL, for fault tests: the data dir survives and `start()` resumes from it."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def __enter__(self) -> "EmbeddedBroker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_port_free(port: int, host: str = "127.0.0.1") -> None:
    """The broker would fail on a taken port only seconds later, in its log; say it now, by name."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Kafka binds: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"port {port} on {host} is already in use ({exc.strerror}): stop what holds it, "
                              "or choose another with --port (0 picks a free one)") from None


def _accepts_clients(bootstrap: str, cluster_id: str | None) -> bool:
    host, port = bootstrap.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=0.5).close()
    except OSError:
        return False
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _probe(bootstrap, cluster_id)).result()


async def _probe(bootstrap: str, cluster_id: str | None) -> bool:
    """True when a Kafka answers on `bootstrap` and it is the cluster formatted in our storage."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return cluster_id is None or cluster.get("cluster_id") == cluster_id
    except (KafkaError, OSError):  # not up yet: the caller polls again until its deadline
        return False
    finally:
        await admin.close()
