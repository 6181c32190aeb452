"""Private PostgreSQL and MariaDB servers that a test may stop and start at will.

Outage tests must never stop the machine's shared servers: each instance
here has its own data directory, socket directory and loopback port under a
temporary directory, runs as the database's system user (``postgres`` /
``mysql``) when started by root, and is removed by ``close()``.

    with PrivatePostgres() as pg:
        url = pg.url          # trust auth, superuser "root"
        pg.stop(); pg.start()
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

import sqlalchemy as sa

from tests.support.galera import _env, _free_ports, _give_to

START_TIMEOUT = 60.0


class ServerUnavailable(Exception):
    """The server's binaries are missing or it did not start."""


def _as_user(user: str | None, cmd: list[str]) -> list[str]:
    return cmd if user is None else ["runuser", "-u", user, "--"] + cmd


def _system_user(name: str) -> str | None:
    """Run as ``name`` when root (the servers refuse or misbehave as root)."""
    if os.geteuid() != 0:
        return None
    pwd.getpwnam(name)
    return name


def _wait_for(url: str, proc: subprocess.Popen | None, log: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | None = None
    try:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                break
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                return
            except sa.exc.OperationalError as e:
                last = e
                time.sleep(0.1)
    finally:
        engine.dispose()
    tail = ""
    if os.path.exists(log):
        with open(log, errors="replace") as f:
            tail = f.read()[-2000:]
    raise ServerUnavailable(f"server at {url} did not start: {last}\n{tail}")


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb, pg_ctl), trust auth, database ``naas``."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not bins:
            raise ServerUnavailable("no /usr/lib/postgresql/*/bin/pg_ctl (Debian postgresql)")
        self.bin = os.path.dirname(bins[-1])
        self.user = _system_user("postgres")
        self.base = tempfile.mkdtemp(prefix="naas-pg-")
        os.chmod(self.base, 0o755)
        self.data = os.path.join(self.base, "data")
        self.log = os.path.join(self.base, "server.log")
        (self.port,) = _free_ports(1)
        self.url = f"postgresql+psycopg2://root@127.0.0.1:{self.port}/naas"
        if self.user:
            _give_to(self.base, self.user)
        out = subprocess.run(
            _as_user(self.user, [f"{self.bin}/initdb", "-D", self.data, "-U", "root",
                                 "--auth=trust", "--no-sync", "-E", "UTF8"]),
            capture_output=True, text=True, timeout=120, env=_env())
        if out.returncode != 0:
            self.close()
            raise ServerUnavailable(f"initdb failed: {out.stderr[-2000:]}")
        try:
            self.start()
            admin = sa.create_engine(self.url.replace("/naas", "/postgres"),
                                     isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
            with admin.connect() as conn:
                conn.execute(sa.text("CREATE DATABASE naas"))
            admin.dispose()
        except BaseException:
            self.close()
            raise

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c full_page_writes=off")
        out = subprocess.run(
            _as_user(self.user, [f"{self.bin}/pg_ctl", "-D", self.data, "-l", self.log,
                                 "-o", opts, "-w", "start"]),
            capture_output=True, text=True, timeout=START_TIMEOUT, env=_env())
        if out.returncode != 0:
            raise ServerUnavailable(f"pg_ctl start failed: {out.stderr[-2000:]}")
        _wait_for(self.url.replace("/naas", "/postgres"), None, self.log)

    def stop(self) -> None:
        """A fast shutdown: connected sessions are terminated (SQLSTATE 57P01)."""
        subprocess.run(
            _as_user(self.user, [f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast",
                                 "-w", "stop"]),
            capture_output=True, text=True, timeout=START_TIMEOUT, env=_env())

    def close(self) -> None:
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PrivateMariaDB:
    """A MariaDB server of its own (mariadb-install-db, mariadbd), database ``naas``."""

    def __init__(self) -> None:
        if shutil.which("mariadbd", path="/usr/sbin:/usr/bin") is None:
            raise ServerUnavailable("no mariadbd (Debian mariadb-server)")
        self.user = _system_user("mysql") or pwd.getpwuid(os.geteuid()).pw_name
        self.base = tempfile.mkdtemp(prefix="naas-mariadb-")
        os.chmod(self.base, 0o755)
        self.data = os.path.join(self.base, "data")
        self.socket = os.path.join(self.base, "mysqld.sock")
        self.log = os.path.join(self.base, "error.log")
        self.cnf = os.path.join(self.base, "my.cnf")
        (self.port,) = _free_ports(1)
        self.url = f"mysql+pymysql://root@127.0.0.1:{self.port}/naas?charset=utf8mb4"
        self.proc: subprocess.Popen | None = None
        os.makedirs(self.data)
        with open(self.cnf, "w") as f:
            f.write("\n".join([
                "[mysqld]", f"datadir={self.data}", f"socket={self.socket}",
                f"pid-file={self.base}/mysqld.pid", f"log-error={self.log}",
                f"port={self.port}", "bind-address=127.0.0.1", f"user={self.user}",
                "skip-name-resolve", "skip-log-bin", "innodb_buffer_pool_size=32M",
                "innodb_flush_log_at_trx_commit=0", "character-set-server=utf8mb4", ""]))
        _give_to(self.base, self.user)
        try:
            out = subprocess.run(
                ["mariadb-install-db", f"--defaults-file={self.cnf}", f"--user={self.user}",
                 "--auth-root-authentication-method=socket", "--skip-test-db"],
                capture_output=True, text=True, timeout=120, env=_env())
            if out.returncode != 0:
                raise ServerUnavailable(f"mariadb-install-db failed: {out.stderr[-2000:]}")
            self.start()
            self._sql("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''")
            self._sql("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
            self._sql("CREATE DATABASE naas CHARACTER SET utf8mb4")
        except BaseException:
            self.close()
            raise

    def _sql(self, statement: str) -> None:
        import pymysql

        conn = pymysql.connect(unix_socket=self.socket, user="root", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()

    def start(self) -> None:
        self.proc = subprocess.Popen(["mariadbd", f"--defaults-file={self.cnf}"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=_env(),
                                     start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                self._sql("SELECT 1")
                return
            except Exception as e:  # not listening yet
                last = e
                time.sleep(0.1)
        raise ServerUnavailable(f"mariadbd did not start ({last}); see {self.log}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PrivateMariaDB:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
