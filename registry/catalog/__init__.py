"""Workflow types and workers: the RegistryService handlers, the rules of every write, the
registry workflows that store them (a root and shards), the calls to them, and this process's
view of them."""
