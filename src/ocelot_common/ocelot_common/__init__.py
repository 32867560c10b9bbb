"""Pieces every Ocelot node shares."""
