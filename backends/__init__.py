"""Training and inference backends behind one interface (see `tuneui.core.backend`)."""
