"""Domain logic of tuneui. Nothing here imports textual or the ML stack (torch and friends)."""
