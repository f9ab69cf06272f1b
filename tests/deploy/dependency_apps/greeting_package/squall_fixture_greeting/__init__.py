"""A tiny package that the dependency tests build into a wheel and install."""

GREETING = "hello from an installed package"
