"""Training and inference backends behind one interface (see `backends.base`)."""
