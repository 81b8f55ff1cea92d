"""Kubernetes ComponentResources of agent-platform."""
