"""Offline preview of an agent-platform stack: render, validate, diff and picture it without a cluster."""
