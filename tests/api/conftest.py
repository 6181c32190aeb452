"""Fixtures of the REST API tests: in-process apps and a real ``naas-api`` process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import webob

from naas_lib.api.app import build_noauth_app

BIN = Path(sys.executable).parent


class Client:
    """Calls a WSGI app in-process with webob, as a given project (None = admin)."""

    def __init__(self, app: Any, project: str | None = None, roles: str = "member") -> None:
        self.app = app
        self.project = project
        self.roles = roles

    def as_project(self, project: str | None, roles: str = "member") -> Client:
        return Client(self.app, project, roles)

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None, raw: bytes | None = None
                ) -> webob.Response:
        req = webob.Request.blank(path, method=method)
        if self.project is not None:
            req.headers["X-Project-Id"] = self.project
            req.headers["X-User-Id"] = f"user-of-{self.project}"
            req.headers["X-Roles"] = self.roles
        req.headers.update(headers or {})
        if raw is not None:
            req.body = raw
            req.content_type = "application/json"
        elif body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = "application/json"
        return req.get_response(self.app)

    def get(self, path: str, **kw: Any) -> webob.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> webob.Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> webob.Response:
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> webob.Response:
        return self.request("DELETE", path, **kw)

    def create(self, resource: str, **attrs: Any) -> dict[str, Any]:
        """Create one resource and return its wire document (fails the test on error)."""
        r = self.post(f"/v2.0/{resource.replace('_', '-')}s", {resource: attrs})
        assert r.status_int == 201, r.text
        return r.json[resource]


@pytest.fixture
def api_service(make_service):
    return make_service()


@pytest.fixture
def app(api_service):
    return build_noauth_app(api_service)


@pytest.fixture
def admin(app) -> Client:
    return Client(app)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiServer:
    """A ``naas-api`` subprocess on 127.0.0.1 with its own SQLite file."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = workdir / "naas.sqlite"
        self.conf = workdir / "naas.conf"
        self.conf.write_text(
            "[DEFAULT]\nauth_strategy = noauth\n"
            f"[database]\nconnection = sqlite:///{self.db}\n"
            f"[api]\nhost = 127.0.0.1\nport = {self.port}\nthreads = 8\n")
        self.log = workdir / "naas-api.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([str(BIN / "naas-api"), "--config-file",
                                          str(self.conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"naas-api exited: {self.log.read_text()}")
            try:
                requests.get(self.url + "/", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"naas-api did not start: {self.log.read_text()}")

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@pytest.fixture(scope="module")
def api_server(tmp_path_factory) -> Iterator[ApiServer]:
    server = ApiServer(tmp_path_factory.mktemp("naas-api"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def clouds_yaml(api_server, tmp_path_factory) -> Path:
    """A clouds.yaml with cloud ``naas``: auth_type none and the network endpoint."""
    path = tmp_path_factory.mktemp("clouds") / "clouds.yaml"
    path.write_text(
        "clouds:\n  naas:\n    auth_type: none\n    auth:\n"
        f"      endpoint: {api_server.url}\n"
        f"    network_endpoint_override: {api_server.url}\n")
    return path


@pytest.fixture(scope="module")
def client_env(clouds_yaml) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_CLIENT_CONFIG_FILE=str(clouds_yaml), OS_CLOUD="naas")
    return env
