"""Ocelot data collection: the oracle, the collector node and dataset tools."""
