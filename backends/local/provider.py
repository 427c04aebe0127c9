"""The local backend's declaration: training and inference on this machine (see `tuneui.core.providers`)."""

from tuneui.core.providers import Provider

PROVIDER = Provider(
    name="local",
    title="this machine",
    backend="backends.local.backend:LocalBackend",
    hosted=False,
    inference="here",
    abilities=frozenset({"trains_here", "shares_device"}),
    preference=0,
)
