"""Repositories: read and write one resource, mapping rows to domain objects."""
