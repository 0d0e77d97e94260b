"""The JSON API under ``/api/v1``: see :mod:`web.api.openapi` for its document."""
