"""Turning a service folder into what instances run: an immutable copy of its code."""
