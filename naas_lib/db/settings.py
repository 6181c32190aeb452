"""Deployment-wide settings every host must agree on, stored at first set-up."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from oslo_db import exception as db_exc
from sqlalchemy import orm

from naas_lib import exceptions as exc
from naas_lib.db import models


def reconcile(session: orm.Session, wanted: Mapping[str, str]) -> None:
    """Store settings the database lacks; refuse to start on any disagreement."""
    stored = dict(session.execute(sa.select(models.DeploymentSetting.name,
                                            models.DeploymentSetting.value)).all())
    for name, value in wanted.items():
        if name not in stored:
            session.add(models.DeploymentSetting(name=name, value=value))
        elif stored[name] != value:
            raise exc.ConfigMismatch(option=name, configured=value, stored=stored[name])
    try:
        session.flush()
    except db_exc.DBDuplicateEntry as e:
        # Another host set the deployment up at the same moment: compare again.
        raise db_exc.RetryRequest(e) from e
