"""The OpenAPI document in the repo matches what the app serves; fuzzing it finds no 5xx."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import naas_lib.api
from naas_lib.api.app import ROUTES, build_noauth_app
from tests.api.conftest import Client

DOC_PATH = Path(naas_lib.api.__file__).parent / "openapi.yaml"
DOC = yaml.safe_load(DOC_PATH.read_text())
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def test_document_lists_exactly_the_served_routes():
    documented = {(path, m.upper()) for path, item in DOC["paths"].items()
                  for m in item if m in HTTP_METHODS}
    served = {(path, m) for path, methods in ROUTES for m in methods}
    assert documented == served


@pytest.mark.parametrize("resource", ["network", "subnet", "port"])
def test_schema_properties_are_what_a_full_document_carries(admin, resource):
    net = admin.create("network", name="n")
    sub = admin.create("subnet", network_id=net["id"], cidr="10.5.0.0/24")
    port = admin.create("port", network_id=net["id"])
    served = {"network": net, "subnet": sub, "port": port}[resource]
    schema = DOC["components"]["schemas"][resource.capitalize()]
    assert set(served) == set(schema["properties"])


def test_every_error_code_the_app_produces_is_documented(admin):
    net = admin.create("network", name="n")
    path = f"/v2.0/networks/{net['id']}"
    produced = {
        ("/v2.0/networks/{id}", "put"): admin.put(
            path, {"network": {}}, headers={"If-Match": "revision_number=99"}).status_int,
        ("/v2.0/networks", "post"): admin.request("POST", "/v2.0/networks",
                                                  raw=b"{").status_int,
        ("/v2.0/networks/{id}", "get"): admin.get("/v2.0/networks/nope").status_int,
    }
    for (p, method), status in produced.items():
        assert str(status) in DOC["paths"][p][method]["responses"], (p, method, status)


schema = schemathesis.openapi.from_path(DOC_PATH)
_alternate = itertools.count()


@pytest.fixture
def fuzz_client(api_service):
    client = Client(build_noauth_app(api_service))
    return client


def _live(client: Client, collection: str) -> str:
    """An id of an existing resource of ``collection`` (made when none is left)."""
    key = collection.replace("-", "_")
    if collection == "security-group-rules":
        client.get("/v2.0/security-groups")  # the project's default group and its rules
    found = client.get(f"/v2.0/{collection}?limit=1&fields=id").json[key]
    if found:
        return found[0]["id"]
    if collection == "security-groups":
        return client.create("security_group", name="seed")["id"]
    net = client.get("/v2.0/networks?limit=1&fields=id").json["networks"]
    net_id = net[0]["id"] if net else client.create("network", name="seed")["id"]
    if collection == "networks":
        return net_id
    if collection == "subnets":
        return client.create("subnet", network_id=net_id, cidr="10.77.0.0/24")["id"]
    return client.create("port", network_id=net_id)["id"]


@schema.parametrize()
@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_fuzz_no_server_errors_and_responses_match_document(case, fuzz_client):
    # Half of the requests aim at resources that exist, so updates and deletes
    # reach the service's validation instead of stopping at 404.
    if next(_alternate) % 2 == 0:
        parts = case.path.split("/")
        if "id" in (case.path_parameters or {}) and len(parts) > 2:
            case.path_parameters["id"] = _live(fuzz_client, parts[2])
        body = case.body if isinstance(case.body, dict) else None
        for item in (body or {}).values():
            entries = item if isinstance(item, list) else [item]
            for entry in entries:
                if isinstance(entry, dict) and "network_id" in entry:
                    entry["network_id"] = _live(fuzz_client, "networks")
    case.call_and_validate(
        app=fuzz_client.app,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance],
    )
