"""Ocelot's graphs, launcher, lifecycle tools and manager."""
