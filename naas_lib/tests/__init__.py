"""Test helpers shipped with the library, for its own tests and for driver authors."""
