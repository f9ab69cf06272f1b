"""An empty module a spare imports before its assignment (see the zygote)."""
