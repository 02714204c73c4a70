"""A toy post for the engine's tests."""
