"""Dataplane drivers: the contract (``base``), the loader (``manager``), and drivers."""
