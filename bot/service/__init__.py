"""The process shell for deployers: configuration, start-up, logs, health check, metrics."""
