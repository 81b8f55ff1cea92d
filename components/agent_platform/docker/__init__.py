"""Docker-host ComponentResources of agent-platform (the compose-style stack)."""
