"""Request context: who is asking, carried as the first argument of every call."""

from __future__ import annotations

from typing import Any

from oslo_context import context as oslo_context


class RequestContext(oslo_context.RequestContext):
    """An oslo.context request context with naas_lib's notion of admin.

    A context is admin when ``is_admin`` is true or it carries the ``admin``
    role, so the same context built by Keystone middleware and by a Nova
    compute host gets the same answers.
    """

    def __init__(
        self,
        project_id: str | None = None,
        user_id: str | None = None,
        roles: list[str] | None = None,
        is_admin: bool | None = None,
        **kwargs: Any,
    ) -> None:
        roles = list(roles or [])
        if is_admin is None:
            is_admin = "admin" in roles
        else:
            is_admin = bool(is_admin) or "admin" in roles
        super().__init__(
            project_id=project_id, user_id=user_id, roles=roles, is_admin=is_admin, **kwargs
        )

    @property
    def tenant_id(self) -> str | None:
        """Neutron's older name for the project."""
        return self.project_id

    def policy_credentials(self) -> dict[str, Any]:
        """The credentials oslo.policy checks rules against."""
        return {
            "project_id": self.project_id,
            "user_id": self.user_id,
            "roles": list(self.roles),
            "is_admin": self.is_admin,
        }

    def elevated(self) -> RequestContext:
        """A copy of this context with admin rights, for internal lookups."""
        ctx = RequestContext(
            project_id=self.project_id,
            user_id=self.user_id,
            roles=list(self.roles),
            is_admin=True,
            request_id=self.request_id,
        )
        if "admin" not in ctx.roles:
            ctx.roles.append("admin")
        return ctx


def get_admin_context() -> RequestContext:
    """A context with full rights, for operators and internal maintenance."""
    return RequestContext(is_admin=True, roles=["admin"])
