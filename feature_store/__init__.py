"""The feature store: each entity's latest feature vector (with a TTL) and a bounded history."""
