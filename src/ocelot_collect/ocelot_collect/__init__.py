"""Ocelot data collection: the collector node, the collection CLI and contact sheets."""
