"""Composition: settings, the application factory, i18n, scheduled jobs, the CLI, the emulator."""
