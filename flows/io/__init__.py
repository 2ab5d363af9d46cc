"""Adapters with side effects: files, recipes, readers, releases, catalog, lineage, Label Studio, keys, audit, policy."""
