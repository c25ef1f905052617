"""Pure detection core: events, rolling windows, features, scoring and thresholds.

Nothing here imports Flink, Redis or TensorFlow, so the streaming job, training and evaluation
share one implementation and unit tests run in milliseconds.
"""
