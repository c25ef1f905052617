"""Job entry points: wiring only."""
