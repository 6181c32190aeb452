"""The service's operations, one module per resource, composed by ``NetworkService``."""
