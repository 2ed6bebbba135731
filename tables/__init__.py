"""Faust tables (RocksDB-backed in production): what each holds, how it is keyed, how it expires.

Every customer-keyed table is written while processing a customer-keyed topic with the same
partition count, so Faust co-partitions them: the worker that owns a customer's transactions
owns that customer's state and reference data, and a lookup is local.

Each module defines how to build its tables on an app it is given (tables never import the
app: it belongs to the agents layer); agents/tables.py builds them on the worker's app.
"""
