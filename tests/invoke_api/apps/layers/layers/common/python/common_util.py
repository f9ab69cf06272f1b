"""A module of the folder layer "common"."""

NAME = "common"
