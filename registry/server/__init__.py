"""The server's plumbing, shared by every feature: configuration, errors, request decoding,
auth, the interceptor, logs, tracing, the HTTP listener, OpenAPI, pagination, the Temporal
connection and bounded input validation. Imports no feature."""
