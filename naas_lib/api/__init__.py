"""Thin REST API compatible with Neutron's v2.0 networking API.

The API only maps HTTP to :class:`naas_lib.NetworkService` calls and the
service's typed errors to HTTP codes; validation, access rules and logic
stay in the service. Build the WSGI application with
:func:`naas_lib.api.app.build_app` or serve it with the ``naas-api`` command.
"""
