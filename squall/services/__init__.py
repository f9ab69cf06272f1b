"""Squall's data services: queues, objects, tables and streams, each behind a small interface."""
