"""This repository's Pulumi program: stack files in, agent_platform components out."""
