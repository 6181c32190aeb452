"""Make every Nova service use :class:`naas_lib.virt.nova_api.API` as its network API.

Nova 34 has no option naming its network API class: sixteen modules call
``nova.network.neutron.API()`` at run time. Replacing that one module
attribute before the services build their managers is therefore enough.
Two ways to do it:

* in-process (tests, an embedding program): ``install(service)``;
* for the ``nova-*`` commands: ``python -m naas_lib.virt.nova_hook --pth
  /etc/naas/naas.conf`` writes a ``naas_nova.pth`` file into the Nova
  environment's site-packages. At interpreter start it calls
  :func:`activate` with that configuration file, which registers an import
  hook: when ``nova.network.neutron`` is first imported, its ``API`` becomes
  this library's class, whose service is built on first use from the file
  (``host`` defaults to the machine's name, as Nova's does).
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import os
import socket
import sys
import sysconfig
from typing import Any

from naas_lib.service import NetworkService
from naas_lib.virt import nova_api

NEUTRON_MODULE = "nova.network.neutron"
PTH_NAME = "naas_nova.pth"


def patch(module: Any) -> None:
    """Point ``module.API`` (``nova.network.neutron``) at the library's class."""
    if getattr(module, "API", None) is not nova_api.API:
        module._original_API = getattr(module, "API", None)
        module.API = nova_api.API


def install(service: NetworkService) -> None:
    """Use ``service`` for every ``nova.network.neutron.API()`` built from now on."""
    nova_api.set_default_service(service)
    if NEUTRON_MODULE in sys.modules:
        patch(sys.modules[NEUTRON_MODULE])
    else:
        _register_finder()


def uninstall() -> None:
    """Undo :func:`install` (tests)."""
    nova_api.set_default_service(None)
    module = sys.modules.get(NEUTRON_MODULE)
    if module is not None and getattr(module, "_original_API", None) is not None:
        module.API = module._original_API
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _NeutronFinder)]


class _LazyService:
    """Builds the service from a configuration file when Nova first asks for it."""

    def __init__(self, config_file: str) -> None:
        self.config_file = config_file

    def build(self) -> NetworkService:
        return NetworkService.from_settings(config_files=[self.config_file],
                                            host=socket.gethostname())


def activate(config_file: str) -> None:
    """Called from the ``.pth`` file: patch Nova when it is imported (no import now)."""
    lazy = _LazyService(config_file)
    original_init = nova_api.API.__init__

    def init(self: nova_api.API, service: NetworkService | None = None, **kw: Any) -> None:
        if service is None and nova_api._default_service is None:
            nova_api.set_default_service(lazy.build())
        original_init(self, service, **kw)

    nova_api.API.__init__ = init  # type: ignore[method-assign]
    _register_finder()


class _NeutronFinder(importlib.abc.MetaPathFinder):
    """Patches ``nova.network.neutron`` right after it is executed."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != NEUTRON_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: Any) -> None:
            original_exec(module)
            patch(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _register_finder() -> None:
    if not any(isinstance(f, _NeutronFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _NeutronFinder())


def write_pth(config_file: str, site_packages: str | None = None) -> str:
    """Write the ``.pth`` file that activates the hook in this Python environment."""
    target = site_packages or sysconfig.get_paths()["purelib"]
    path = os.path.join(target, PTH_NAME)
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"import naas_lib.virt.nova_hook as h; h.activate({config_file!r})\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pth", metavar="CONFIG_FILE", required=True,
                        help="naas_lib configuration file the Nova services use")
    args = parser.parse_args(argv)
    print(write_pth(os.path.abspath(args.pth)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
