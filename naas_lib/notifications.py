"""Cross-process notifications: AFTER events sent with oslo.messaging.

Enabled when ``[oslo_messaging_notifications] transport_url`` is set (the
OpenStack convention) and ``driver`` is not ``noop``; with no driver given,
``messagingv2`` is used. When it is not configured, no notifier is built,
oslo.messaging is not even imported and the event registry holds no extra
subscriber, so operations cost nothing more.

Event types (payloads in Neutron's wire format, see :mod:`naas_lib.wire`):

* network, subnet, port: ``<res>.create.end``, ``<res>.update.end`` and
  ``<res>.delete.end``; payload ``{"<res>": {...}}``, plus ``"<res>_id"`` on delete;
* attachment: ``port.attach.end`` and ``port.detach.end``; payload
  ``{"attachment": {...}, "port_id": ...}``;
* service: ``service.create.end`` and ``service.delete.end``; payload
  ``{"service": {...}}`` (plus ``"service_id"`` on delete);
* service association: ``service.associate.end`` and ``service.disassociate.end``;
  payload ``{"service_association": {"service_id", "network_id", "cause", ...}}``.

Notifications are sent synchronously from the AFTER callback, so one
process emits them in the order its operations completed; a failure to send
is logged and never fails the operation (AFTER isolation). Because an
unreachable broker must not hang a network operation, the default unlimited
``retry`` is capped at :data:`DEFAULT_RETRY` attempts.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from oslo_config import cfg

from naas_lib import events, wire
from naas_lib import exceptions as exc

if TYPE_CHECKING:
    from naas_lib.service import NetworkService

LOG = logging.getLogger(__name__)

GROUP = "oslo_messaging_notifications"
DEFAULT_DRIVER = "messagingv2"
DEFAULT_RETRY = 3
#: AFTER callbacks of in-process subscribers run first; notifications last.
PRIORITY = events.PRIORITY_DEFAULT * 10

_OPERATIONS = {events.AFTER_CREATE: "create", events.AFTER_UPDATE: "update",
               events.AFTER_DELETE: "delete"}


_DOCUMENTS: dict[str, Callable[[Any], dict[str, Any]]] = {
    events.NETWORK: wire.network_to_wire,
    events.SUBNET: wire.subnet_to_wire,
    events.PORT: wire.port_to_wire,
    events.SERVICE: wire.service_to_wire,
    events.SECURITY_GROUP: wire.security_group_to_wire,
    events.SECURITY_GROUP_RULE: wire.security_group_rule_to_wire,
}


def event_type(resource: str, event: str) -> str:
    """The notification event type of an AFTER event (``network.create.end``)."""
    if resource == events.ATTACHMENT:
        return "port.attach.end" if event == events.AFTER_CREATE else "port.detach.end"
    if resource == events.SERVICE_ASSOCIATION:
        op = "associate" if event == events.AFTER_CREATE else "disassociate"
        return f"service.{op}.end"
    return f"{resource}.{_OPERATIONS[event]}.end"


def build_payload(resource: str, payload: events.EventPayload) -> dict[str, Any]:
    """The notification body of an AFTER event: the resource as the API shows it."""
    obj = payload.latest
    if resource == events.ATTACHMENT:
        return {"attachment": wire.attachment_to_wire(obj), "port_id": payload.resource_id}
    if resource == events.SERVICE_ASSOCIATION:
        body = wire.attachment_to_wire(obj)
        body["cause"] = payload.metadata.get("cause")
        return {"service_association": body}
    body = {resource: _DOCUMENTS[resource](obj)}
    if payload.states[1] is None:
        body[f"{resource}_id"] = payload.resource_id
    return body


def _register(conf: cfg.ConfigOpts) -> None:
    """Register oslo.messaging's notification options (imports oslo.messaging)."""
    try:
        from oslo_messaging import opts as om_opts
    except ImportError:
        raise exc.InvalidInput(
            field=f"[{GROUP}]",
            reason="notifications are configured but oslo.messaging is not installed "
                   "(pip install 'naas_lib[notifications]')") from None

    for group, opts in om_opts.list_opts():
        if group == GROUP:
            conf.register_opts(opts, group=GROUP)


def is_configured(conf: cfg.ConfigOpts) -> bool:
    """Whether notifications are enabled, without importing oslo.messaging when not."""
    if GROUP not in conf:
        if GROUP not in conf.list_all_sections():
            return False
        _register(conf)
    group = conf[GROUP]
    return bool(group.transport_url) and list(group.driver) != ["noop"]


def _context_serializer() -> Any:
    """Sends the (credential-redacted) request context as a plain dictionary."""
    import oslo_messaging

    class ContextSerializer(oslo_messaging.NoOpSerializer):
        def serialize_context(self, ctxt: Any) -> dict[str, Any]:
            return ctxt.to_dict() if hasattr(ctxt, "to_dict") else dict(ctxt or {})

    return ContextSerializer()


class Notifier:
    """Sends the AFTER events of one service's registry as notifications."""

    def __init__(self, conf: cfg.ConfigOpts, host: str | None) -> None:
        import oslo_messaging

        group = conf[GROUP]
        self._transport = oslo_messaging.get_notification_transport(conf)
        retry = group.retry if group.retry is not None and group.retry >= 0 else DEFAULT_RETRY
        self._notifier = oslo_messaging.Notifier(
            self._transport, publisher_id=f"network.{host or socket.gethostname()}",
            driver=None if group.driver else DEFAULT_DRIVER, retry=retry,
            serializer=_context_serializer())

    def subscribe(self, registry: events.CallbackRegistry) -> None:
        """Subscribe to every AFTER event of every resource."""
        for resource in events.RESOURCES:
            for event in events.AFTER_EVENTS:
                if resource in (events.ATTACHMENT, events.SERVICE_ASSOCIATION) and \
                        event == events.AFTER_UPDATE:
                    continue
                registry.subscribe(self.notify, resource, event, priority=PRIORITY)

    def notify(self, resource: str, event: str, trigger: Any,
               payload: events.EventPayload) -> None:
        """The AFTER callback: one ``info`` notification per event."""
        self._notifier.info(payload.context, event_type(resource, event),
                            build_payload(resource, payload))

    def close(self) -> None:
        self._transport.cleanup()


def setup(service: NetworkService) -> Notifier | None:
    """Build and subscribe the notifier of ``service`` when configured, else None."""
    if not is_configured(service.conf):
        return None
    notifier = Notifier(service.conf, service.host)
    notifier.subscribe(service.events)
    LOG.info("Sending notifications to [%s] transport_url", GROUP)
    return notifier
