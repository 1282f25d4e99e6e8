"""gRPC servicers: one module per service of proto/temporal_registry/v1."""
