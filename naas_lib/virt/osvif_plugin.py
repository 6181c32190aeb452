"""An os-vif plugin that plugs VIFs through naas_lib's dataplane driver.

Modern Nova plugs VIFs with os-vif: it turns each VIF of the network info
into an os-vif object whose ``plugin`` names the plugin to call. This one is
the entry point ``naas`` in the ``os_vif`` namespace. os-vif registers
:attr:`NaasPlugin.CONFIG_OPTS` in the ``[os_vif_naas]`` group of Nova's
configuration and hands the group in; the plugin builds its own
:class:`~naas_lib.NetworkService` from it on first use (never at import or
load time, so loading all os-vif plugins stays cheap) and plugs the port
whose id is the VIF's ``id``, as Nova's VIFs carry their port id.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from os_vif import objects as osv_objects
from os_vif import plugin as osv_plugin
from oslo_config import cfg

from naas_lib.service import NetworkService
from naas_lib.virt import host_side

LOG = logging.getLogger(__name__)

PLUGIN_NAME = "naas"

#: VIF object classes this plugin plugs, with the versions it understands.
SUPPORTED_VIFS = (("VIFGeneric", "1.0", "1.0"), ("VIFBridge", "1.0", "1.0"))


class NaasPlugin(osv_plugin.PluginBase):
    """Plug and unplug naas_lib ports on this compute host."""

    CONFIG_OPTS = [
        cfg.StrOpt("connection", secret=True,
                   help="Database URL of the naas_lib deployment (the same database the "
                        "provisioner and every other host use). Empty: the embedded "
                        "SQLite file in the user's data directory."),
        cfg.StrOpt("host",
                   help="Name of this compute host as ports are bound to it; normally "
                        "Nova's [DEFAULT] host."),
        cfg.StrOpt("driver", default="linuxbridge",
                   help="naas_lib dataplane driver that makes the host-side devices."),
        cfg.ListOpt("config_files", default=[],
                    help="naas_lib configuration files to read for the driver's own "
                         "option group (for example [linuxbridge] vxlan_endpoint)."),
    ]

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._service: NetworkService | None = None
        self._lock = threading.Lock()

    @property
    def service(self) -> NetworkService:
        """This host's service, built from ``[os_vif_naas]`` on first use."""
        if self._service is None:
            with self._lock:
                if self._service is None:
                    self._service = NetworkService.from_settings(
                        database_url=self.config.connection or None,
                        driver=self.config.driver,
                        host=self.config.host or None,
                        config_files=list(self.config.config_files or []),
                    )
        return self._service

    def close(self) -> None:
        """Release the service's database pool and driver sockets, if built."""
        with self._lock:
            if self._service is not None:
                self._service.close()
                self._service = None

    def describe(self) -> osv_objects.host_info.HostPluginInfo:
        """Advertise the VIF objects (and their versions) this plugin accepts."""
        return osv_objects.host_info.HostPluginInfo(
            plugin_name=PLUGIN_NAME,
            vif_info=[
                osv_objects.host_info.HostVIFInfo(
                    vif_object_name=name, min_version=low, max_version=high,
                    supported_port_profiles=[])
                for name, low, high in SUPPORTED_VIFS
            ],
        )

    def _check(self, vif: osv_objects.vif.VIFBase) -> str:
        supported = {name for name, _, _ in SUPPORTED_VIFS}
        if vif.obj_name() not in supported:
            raise TypeError(f"the naas plugin does not plug {vif.obj_name()} objects")
        return str(vif.id)

    def plug(self, vif: osv_objects.vif.VIFBase,
             instance_info: osv_objects.instance_info.InstanceInfo) -> None:
        """Make the port's devices on this host; the port becomes ACTIVE. Idempotent."""
        port_id = self._check(vif)
        (port,) = host_side.plug(self.service, [port_id])
        wanted = getattr(vif, "vif_name", None)
        made = port.binding_vif_details.get("devname")
        if wanted and made and wanted != made:
            LOG.warning("VIF %s asks for device %s; the driver made %s", port_id, wanted, made)
        LOG.debug("Plugged port %s of instance %s", port_id,
                  getattr(instance_info, "uuid", None))

    def unplug(self, vif: osv_objects.vif.VIFBase,
               instance_info: osv_objects.instance_info.InstanceInfo) -> None:
        """Remove the port's devices from this host; the port becomes DOWN. Idempotent."""
        port_id = self._check(vif)
        host_side.unplug(self.service, [port_id])
        LOG.debug("Unplugged port %s of instance %s", port_id,
                  getattr(instance_info, "uuid", None))
