"""Workflow types and workers: the RegistryService handlers, the rules of every write, the
registry workflow that stores them, the calls to it, and this process's copy of the
catalogue."""
