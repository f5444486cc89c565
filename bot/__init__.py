"""Composition only: the application factory, the CLI, scheduled jobs, health and logging."""
