"""`temporal-registry up`: the Temporal dev server, Envoy (its rendered config) and the
registry in one foreground process, with port checks and child processes that die with it."""
