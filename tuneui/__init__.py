"""tuneui: from a few examples to a fine-tuned LLM that measurably beats your best prompt."""

__version__ = "0.1.0"
