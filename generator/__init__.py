"""Realistic metric workloads with labelled incidents, and replay of CSV/NPY data sets into Kafka."""
