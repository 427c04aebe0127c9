"""Widgets: UI only; what they show comes from the guide and the workspace."""
