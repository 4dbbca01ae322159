"""Translation backends. See `translate.backends.base` for the protocol and the registry."""

from translate.backends.base import Backend, available_backends, create_backend, iter_batches

__all__ = ["Backend", "available_backends", "create_backend", "iter_batches"]
