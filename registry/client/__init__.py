"""The other side of the API: reaching a registry, the worker plugin, the registration keeper,
manifests and the CLI's client commands. Imports only registry.shared, never the server."""
