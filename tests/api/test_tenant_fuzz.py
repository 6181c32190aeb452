"""Stateful REST fuzzing as admin and as two tenants: no 5xx, no leak, one error shape.

schemathesis follows the OpenAPI links of ``openapi.yaml`` (create, then show,
update or delete what was created) as each role. Another project's network,
subnet and port exist, and now and then a step aims at one of them instead.
Every response is checked:

- never 5xx;
- a tenant never receives a resource of another project (bodies and lists);
- every error body is ``{"NeutronError": {"type", "message", "detail"}}``.
"""

from __future__ import annotations

import collections
import itertools
import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

import naas_lib.api
from naas_lib import NetworkService
from naas_lib.api.app import build_noauth_app
from tests.api.conftest import Client

DOC_PATH = Path(naas_lib.api.__file__).parent / "openapi.yaml"
PROFILE = os.environ.get("NAAS_HYPOTHESIS_PROFILE", "ci")
SCENARIOS, STEPS = {"ci": (25, 6), "nightly": (500, 12)}[PROFILE]
ROLES = {"admin": None, "project-a": "project-a", "project-b": "project-b"}
VICTIM = "project-victim"
RESOURCES = ("network", "subnet", "port")
COUNTS: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
# Attributes only an admin may set: a tenant's body keeps them in half of the steps.
ADMIN_ONLY = ("shared", "provider:network_type", "provider:segmentation_id",
              "provider:physical_network", "tenant_id", "project_id", "binding:host_id",
              "binding:profile", "mac_address", "fixed_ips")


def _documents(body: Any) -> list[dict[str, Any]]:
    """Every resource document in a response body."""
    if not isinstance(body, dict):
        return []
    docs: list[dict[str, Any]] = []
    for res in RESOURCES:
        if isinstance(body.get(res), dict):
            docs.append(body[res])
        if isinstance(body.get(res + "s"), list):
            docs.extend(d for d in body[res + "s"] if isinstance(d, dict))
    return docs


def _visible_to(project: str, doc: dict[str, Any], shared: set[str]) -> bool:
    owner = doc.get("project_id", doc.get("tenant_id"))
    if owner in (None, project):
        return True  # a fields= projection without project_id names nothing else
    return doc.get("id") in shared or doc.get("network_id") in shared and "cidr" in doc


def seeded_app() -> tuple[NetworkService, Any, dict[str, str]]:
    """A fresh service whose database holds another project's network, subnet and port."""
    service = NetworkService.from_settings(database_url="sqlite://")
    app = build_noauth_app(service)
    victim = Client(app).as_project(VICTIM)
    net = victim.create("network", name="victim-net")
    sub = victim.create("subnet", network_id=net["id"], cidr="10.66.0.0/24")
    port = victim.create("port", network_id=net["id"])
    Client(app).create("network", name="admin-net")
    return service, app, {"network": net["id"], "subnet": sub["id"], "port": port["id"]}


def _machine(role: str, shared: set[str]):
    project = ROLES[role]
    headers = {"X-Project-Id": project, "X-User-Id": f"user-{project}",
               "X-Roles": "member"} if project else {}
    # The resources only: with the extension operations in, schemathesis starts
    # every scenario from them (its "reliable" roots) and never creates anything.
    schema = schemathesis.openapi.from_path(DOC_PATH).include(
        path_regex=r"^/v2\.0/(networks|subnets|ports)")
    base = schema.as_state_machine()

    class TenantMachine(base):  # type: ignore[misc, valid-type]
        """Each scenario starts from a fresh database (hypothesis replays scenarios)."""

        def setup(self) -> None:
            self.service, self.app, self.victims = seeded_app()
            self.steer = itertools.count()  # per scenario, so a replay steers alike
            self.me = Client(self.app).as_project(project) if project else Client(self.app)
            self.before = self._victim_documents()

        def _victim_documents(self) -> dict[str, Any]:
            victim = Client(self.app).as_project(VICTIM)
            return {res: victim.get(f"/v2.0/{res}s/{rid}").json
                    for res, rid in self.victims.items()}

        def teardown(self) -> None:
            try:
                if project:  # a tenant's update or delete never reached them
                    assert self._victim_documents() == self.before
            finally:
                self.service.close()

        def own_network(self) -> str:
            found = self.me.get("/v2.0/networks?limit=1&fields=id").json["networks"]
            if found and (project is None or self.me.get(
                    f"/v2.0/networks/{found[0]['id']}").json["network"]["project_id"] == project):
                return found[0]["id"]
            return self.me.create("network", name="seed")["id"]

        def before_call(self, case) -> None:
            # One step in four aims at another project's resource of the same kind.
            parts = case.path.split("/")
            if (project and case.path_parameters and "id" in case.path_parameters
                    and len(parts) > 2 and next(self.steer) % 4 == 0):
                case.path_parameters["id"] = self.victims[parts[2][:-1]]
            # Half of the bodies are made plausible, so creates succeed and the
            # links to show/update/delete get followed.
            if isinstance(case.body, dict) and next(self.steer) % 2 == 0:
                for item in case.body.values():
                    for entry in item if isinstance(item, list) else [item]:
                        if not isinstance(entry, dict):
                            continue
                        for key in ADMIN_ONLY if project else ():
                            entry.pop(key, None)
                        if "network_id" in entry:
                            entry["network_id"] = self.own_network()

        def get_call_kwargs(self, case) -> dict[str, Any]:
            return {"app": self.app, "headers": dict(headers)}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            COUNTS[role]["cases"] += 1
            COUNTS[role][f"{response.status_code // 100}xx"] += 1
            status = response.status_code
            if status >= 500:
                COUNTS[role]["5xx"] += 1
            try:
                body = response.json()
            except ValueError:
                body = None
            if status >= 400:
                assert isinstance(body, dict) and set(body) == {"NeutronError"}, response.text
                assert set(body["NeutronError"]) == {"type", "message", "detail"}
            if project:
                for doc in _documents(body):
                    assert _visible_to(project, doc, shared), (
                        f"{role} got {doc.get('id')} of {doc.get('project_id')}")
            case.validate_response(response, checks=[not_a_server_error],
                                   transport_kwargs=kwargs or None)

    return TenantMachine


@pytest.mark.parametrize("role", sorted(ROLES))
def test_stateful_fuzz_as_role(role):
    machine = _machine(role, shared=set())
    machine.run(settings=settings(max_examples=SCENARIOS, stateful_step_count=STEPS,
                                  deadline=None, database=None,
                                  suppress_health_check=list(HealthCheck)))
    counts = COUNTS[role]
    print(f"schemathesis stateful as {role} ({PROFILE}): {counts['cases']} cases, "
          f"{counts['2xx']} 2xx, {counts['4xx']} 4xx, {counts['5xx']} 5xx")
    assert counts["cases"] > 0 and counts["5xx"] == 0
