"""RL integrations above the engine: adapters for external frameworks (docs/rl.md)."""
