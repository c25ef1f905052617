"""The embedded default: local broker, redis-server, Flink MiniCluster job, demo and its report."""
