"""The stand-in platform servers of the channel tests (Zalo serves the platform files)."""

from tests.channels.conftest import graph_server, zalo_server  # noqa: F401
