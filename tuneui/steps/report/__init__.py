"""Evaluation reports: `inputs` gathers what they show from disk; `markdown` and `html` render it."""
