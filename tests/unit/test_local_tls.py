"""PyMySQL to a local server goes without TLS unless the URL asks for it (20 ms per connection)."""

from __future__ import annotations

import pytest

from naas_lib.db.api import without_local_tls


@pytest.mark.parametrize("url", [
    "mysql+pymysql://root@127.0.0.1:3306/test",
    "mysql+pymysql://root@localhost/test",
    "mysql+pymysql://root@/test?unix_socket=/run/mysqld/mysqld.sock",
])
def test_local_pymysql_urls_turn_tls_off(url):
    changed = without_local_tls(url)
    assert "ssl_disabled=1" in changed
    assert without_local_tls(changed) == changed  # already says: left alone


@pytest.mark.parametrize("url", [
    "mysql+pymysql://root@db.example.com/test",  # a remote server: TLS as PyMySQL decides
    "mysql+pymysql://root@127.0.0.1/test?ssl_ca=/etc/ca.pem",  # TLS asked for
    "postgresql+psycopg2://root@127.0.0.1/test",
    "sqlite:////tmp/naas.sqlite",
])
def test_other_urls_are_left_as_they_are(url):
    assert without_local_tls(url) == url
