"""Helpers shared by the test tiers: environment checks, databases, fakes, cost counters.

Nothing here ships with the library; see ``tests/README.md`` for what each module offers.
"""
