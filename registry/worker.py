"""The stable import path of the worker plugin: `from registry.worker import RegistryPlugin`.

The code lives in `registry.client.worker` (the client side, which imports nothing of the
server); importing this module gives that module itself, lazy exports included."""

import sys

from registry.client import worker

sys.modules[__name__] = worker
