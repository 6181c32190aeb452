"""A throw-away 3-node MariaDB Galera cluster on loopback, for tests and benchmarks.

Each node is a ``mariadbd`` with its own data directory, socket, PID file and
ports (client, group communication, IST, SST) under one temporary directory;
nothing touches the machine's own MariaDB. The first node bootstraps the
cluster, the others join it by rsync SST. ``stop()`` shuts every node down
and removes the directory, so a test session leaves nothing running.

    with GaleraCluster() as cluster:
        urls, drop = cluster.provision()   # one database, one URL per node
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable

import sqlalchemy as sa

PROVIDER = "/usr/lib/galera/libgalera_smm.so"
NODES = 3
START_TIMEOUT = 90.0
START_ATTEMPTS = 3


class GaleraUnavailable(Exception):
    """The cluster could not be started (binaries missing or a node did not sync)."""


def _free_ports(count: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


class _Node:
    def __init__(self, base: str, index: int, ports: list[int]) -> None:
        self.index = index
        self.dir = os.path.join(base, f"node{index}")
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.pidfile = os.path.join(self.dir, "mysqld.pid")
        self.log = os.path.join(self.dir, "error.log")
        self.cnf = os.path.join(self.dir, "my.cnf")
        self.port, self.gcomm, self.ist, self.sst = ports
        self.proc: subprocess.Popen | None = None

    def url(self, database: str = "", sync_wait: bool = False) -> str:
        """A client URL; ``sync_wait`` makes every read wait until the node has
        applied what the cluster committed before it (``wsrep_sync_wait=1``)."""
        url = f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}?charset=utf8mb4"
        if sync_wait:
            url += _SYNC_WAIT
        return url


class GaleraCluster:
    """Start, use and stop a private Galera cluster of ``NODES`` nodes."""

    def __init__(self, nodes: int = NODES) -> None:
        self.size = nodes
        self._layout()
        # Not root: the joiner's rsync daemon would drop to "nobody" and fail to write.
        self.user = "mysql" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    # -- lifecycle ---------------------------------------------------------

    def _layout(self) -> None:
        """A fresh directory, free ports and cluster name for every node."""
        self.base = tempfile.mkdtemp(prefix="naas-galera-")
        os.chmod(self.base, 0o755)
        ports = _free_ports(4 * self.size)
        self.nodes = [_Node(self.base, i, ports[4 * i:4 * i + 4]) for i in range(self.size)]
        self.name = f"naas-{uuid.uuid4().hex[:8]}"

    def start(self) -> GaleraCluster:
        """Bootstrap node 0, join the others; returns when all are Synced.

        A port found free can be taken by another process before a node binds
        it (other test sessions start clusters too): a node that does not come
        up is tried again on new ports, twice at most.
        """
        if not os.path.exists(PROVIDER) or shutil.which("mariadbd", path=_PATH) is None:
            raise GaleraUnavailable(f"need mariadbd and {PROVIDER} (Debian galera-4)")
        for attempt in range(START_ATTEMPTS):
            try:
                return self._start_once()
            except GaleraUnavailable:
                if attempt == START_ATTEMPTS - 1:
                    raise
                self._layout()  # stop() removed the old directory
        raise AssertionError("unreachable")

    def _start_once(self) -> GaleraCluster:
        try:
            for node in self.nodes:
                os.makedirs(node.datadir)
                self._write_cnf(node)
                _give_to(node.dir, self.user)
            self._install_db(self.nodes[0])
            self._launch(self.nodes[0], bootstrap=True)
            self._wait_synced(self.nodes[0])
            self._grant_tcp_root(self.nodes[0])
            for node in self.nodes[1:]:
                self._launch(node, bootstrap=False)
            for node in self.nodes[1:]:
                self._wait_synced(node)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Shut every node down (SIGTERM, then SIGKILL) and remove all files."""
        for node in reversed(self.nodes):
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGTERM)
        for node in reversed(self.nodes):
            if node.proc is None:
                continue
            try:
                node.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait(timeout=10)
            node.proc = None
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> GaleraCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- databases ---------------------------------------------------------

    def provision(self, sync_wait: bool = True) -> tuple[list[str], Callable[[], None]]:
        """A fresh database; returns one URL per node and a function that drops it.

        By default the URLs read with ``wsrep_sync_wait=1``: a read on one node
        sees every write committed on any node before it.
        """
        name = f"naas_test_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(self.nodes[0].url(), isolation_level="AUTOCOMMIT",
                                 poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
            admin.dispose()

        return [n.url(name, sync_wait) for n in self.nodes], drop

    # -- internals ---------------------------------------------------------

    def _write_cnf(self, node: _Node) -> None:
        peers = ",".join(f"127.0.0.1:{n.gcomm}" for n in self.nodes)
        provider_options = ";".join([
            f"gmcast.listen_addr=tcp://127.0.0.1:{node.gcomm}",
            f"ist.recv_addr=127.0.0.1:{node.ist}",
            "gcache.size=16M",
            # Three nodes share a few loaded cores: let appliers lag a little
            # before flow control pauses every writer (default limit 16).
            "gcs.fc_limit=256", "gcs.fc_factor=0.9",
            # Loopback never partitions: detect a stopped peer quickly.
            "evs.suspect_timeout=PT3S", "evs.inactive_timeout=PT5S",
            "evs.install_timeout=PT5S",
        ])
        settings = {
            "datadir": node.datadir, "socket": node.socket, "pid-file": node.pidfile,
            "log-error": node.log, "port": node.port, "bind-address": "127.0.0.1",
            "user": self.user, "skip-name-resolve": None, "skip-log-bin": None,
            "binlog_format": "ROW", "default_storage_engine": "InnoDB",
            "innodb_autoinc_lock_mode": 2, "innodb_buffer_pool_size": "64M",
            "innodb_log_file_size": "16M", "innodb_flush_log_at_trx_commit": 0,
            "max_connections": 300, "character-set-server": "utf8mb4",
            "wsrep_on": "ON", "wsrep_provider": PROVIDER,
            "wsrep_cluster_name": self.name, "wsrep_cluster_address": f"gcomm://{peers}",
            "wsrep_node_name": f"node{node.index}",
            "wsrep_node_address": f"127.0.0.1:{node.gcomm}",
            "wsrep_node_incoming_address": f"127.0.0.1:{node.port}",
            "wsrep_sst_method": "rsync",
            "wsrep_sst_receive_address": f"127.0.0.1:{node.sst}",
            "wsrep_provider_options": f'"{provider_options}"',
            "wsrep_slave_threads": 2,
        }
        lines = ["[mysqld]"] + [k if v is None else f"{k}={v}" for k, v in settings.items()]
        lines += ["[sst]", "progress=none"]
        with open(node.cnf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _install_db(self, node: _Node) -> None:
        out = subprocess.run(
            ["mariadb-install-db", f"--defaults-file={node.cnf}", f"--user={self.user}",
             f"--datadir={node.datadir}", "--auth-root-authentication-method=socket",
             "--skip-test-db"],
            capture_output=True, text=True, timeout=120, env=_env())
        if out.returncode != 0:
            raise GaleraUnavailable(f"mariadb-install-db failed: {out.stderr[-2000:]}")

    def _launch(self, node: _Node, bootstrap: bool) -> None:
        cmd = ["mariadbd", f"--defaults-file={node.cnf}"]
        if bootstrap:
            cmd.append("--wsrep-new-cluster")
        node.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=_env(),
                                     start_new_session=True)

    def _wait_synced(self, node: _Node) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            if node.proc is not None and node.proc.poll() is not None:
                break
            try:
                state = self.sql(node, "SHOW STATUS LIKE 'wsrep_local_state_comment'")
                last = state[0][1] if state else ""
                if last == "Synced":
                    return
            except Exception as e:  # not up yet
                last = str(e)
            time.sleep(0.2)
        tail = ""
        with contextlib.suppress(OSError), open(node.log) as f:
            tail = f.read()[-3000:]
        raise GaleraUnavailable(f"node{node.index} not Synced ({last}); log:\n{tail}")

    @staticmethod
    def sql(node: _Node, statement: str) -> list[tuple]:
        """Run one statement as root over the node's socket; returns its rows."""
        import pymysql

        conn = pymysql.connect(unix_socket=node.socket, user="root", connect_timeout=2,
                               autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                return list(cur.fetchall())
        finally:
            conn.close()

    def _grant_tcp_root(self, node: _Node) -> None:
        # Tests connect over TCP without a password, as to the machine's server.
        self.sql(node, "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''")
        self.sql(node, "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")


def _give_to(path: str, user: str) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.chown(name, entry.pw_uid, entry.pw_gid)


_SYNC_WAIT = "&init_command=SET%20SESSION%20wsrep_sync_wait%3D1"


def without_sync_wait(url: str) -> str:
    """The same node for writers: certification already orders their writes."""
    return url.replace(_SYNC_WAIT, "")


_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = _PATH + ":" + env.get("PATH", "")
    return env
