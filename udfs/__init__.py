"""Flink functions: thin adapters that load state, call the pure core in ``detector``, store state, yield."""
