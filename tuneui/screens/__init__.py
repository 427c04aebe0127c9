"""Screens: the main conversation and the full view of each step."""
