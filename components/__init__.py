"""agent-platform components: the typed stack config and the ComponentResources built from it."""
