"""One module per command group of the `tuneui` CLI; each exposes `register(subparsers)`."""
