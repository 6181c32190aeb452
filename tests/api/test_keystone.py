"""auth_strategy=keystone: tokens validated by keystonemiddleware (its fixture, no Keystone)."""

from __future__ import annotations

import pytest
import webob
from keystonemiddleware import fixture as ksm_fixture
from oslo_config import cfg

from naas_lib.api import app as api_app
from naas_lib.api import opts


@pytest.fixture
def tokens():
    fx = ksm_fixture.AuthTokenFixture()
    fx.setUp()
    try:
        yield fx
    finally:
        fx.cleanUp()


@pytest.fixture
def keystone_app(api_service, tokens, tmp_path):
    # What a deployment writes; the URI only goes into 401 answers, never contacted.
    conf_file = tmp_path / "naas.conf"
    conf_file.write_text("[DEFAULT]\nauth_strategy = keystone\n"
                         "[keystone_authtoken]\n"
                         "www_authenticate_uri = http://keystone.invalid/identity\n")
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    conf([], project="naas", default_config_files=[str(conf_file)])
    return api_app.build_app(conf, api_service)


def call(app, path, token=None, method="GET", body=None, **headers):
    req = webob.Request.blank(path, method=method)
    if token:
        req.headers["X-Auth-Token"] = token
    req.headers.update(headers)
    if body is not None:
        req.json_body = body
    return req.get_response(app)


def test_valid_token_scopes_requests_to_its_project(keystone_app, tokens):
    tokens.add_token_data(token_id="tok-a", user_id="alice", project_id="proj-a",
                          role_list=["member"])
    tokens.add_token_data(token_id="tok-b", user_id="bob", project_id="proj-b",
                          role_list=["member"])
    r = call(keystone_app, "/v2.0/networks", "tok-a", "POST", {"network": {"name": "a"}})
    assert r.status_int == 201 and r.json["network"]["project_id"] == "proj-a"
    assert call(keystone_app, "/v2.0/networks", "tok-b").json["networks"] == []
    listed = call(keystone_app, "/v2.0/networks", "tok-a").json["networks"]
    assert [n["name"] for n in listed] == ["a"]


def test_missing_or_unknown_token_is_401(keystone_app, tokens):
    for token in (None, "forged"):
        r = call(keystone_app, "/v2.0/networks", token)
        assert r.status_int == 401
        assert "keystone.invalid" in r.headers["WWW-Authenticate"]


def test_identity_headers_from_the_client_are_not_trusted(keystone_app, tokens):
    tokens.add_token_data(token_id="tok-c", user_id="carol", project_id="proj-c",
                          role_list=["member"])
    r = call(keystone_app, "/v2.0/networks", "tok-c", "POST", {"network": {"name": "c"}},
             **{"X-Project-Id": "proj-victim", "X-Roles": "admin"})
    assert r.status_int == 201 and r.json["network"]["project_id"] == "proj-c"
    r = call(keystone_app, "/v2.0/networks", "tok-c", "POST",
             {"network": {"name": "s", "shared": True}}, **{"X-Roles": "admin"})
    assert r.status_int == 403


def test_admin_role_from_token_sees_all(keystone_app, tokens):
    tokens.add_token_data(token_id="tok-u", user_id="u", project_id="proj-u",
                          role_list=["member"])
    tokens.add_token_data(token_id="tok-adm", user_id="root", project_id="ops",
                          role_list=["admin"])
    call(keystone_app, "/v2.0/networks", "tok-u", "POST", {"network": {"name": "u"}})
    names = [n["name"] for n in call(keystone_app, "/v2.0/networks", "tok-adm").json["networks"]]
    assert names == ["u"]


def test_version_document_needs_no_token(keystone_app):
    r = call(keystone_app, "/")
    assert r.status_int == 200 and r.json["versions"][0]["id"] == "v2.0"


def test_keystone_401_has_the_neutron_error_shape(keystone_app, tokens):
    for token in (None, "forged"):
        r = call(keystone_app, "/v2.0/ports", token)
        assert r.status_int == 401
        assert r.content_type == "application/json"
        err = r.json["NeutronError"]
        assert err["type"] == "HTTPUnauthorized" and "X-Auth-Token" in err["message"]
        assert "keystone.invalid" in r.headers["WWW-Authenticate"]
