"""Datasets: readers -> one Example model -> checks -> split -> writers."""

from tuneui.core.dataset.model import Example

__all__ = ["Example"]
