"""Network types (local, flat, vxlan, vlan): one module each, loaded by name.

A network type validates its provider attributes, allocates and releases its
segments and states its encapsulation overhead. Third parties add a type
with an entry point in the ``naas_lib.network_types`` namespace.
"""
