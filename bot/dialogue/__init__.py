"""The dialogue core, pure: the YAML format, loading and checking it, and the engine."""
