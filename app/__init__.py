"""Tifa's service: settings, the HTTP API and pages, the CLI, and pure analysis."""
