"""What the server, the registry workflow's sandbox and the client side share: the data model,
the structural rules of requests, JSON Schema checks, slugs, and proto-to-model conversion
of requests. Imports nothing else of the registry."""
