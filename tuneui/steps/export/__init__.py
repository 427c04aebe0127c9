"""Export: the tuned model as files other tools load (`tuneui export RUN`, docs/export.md).

`build` writes `exports/RUN/` whole or not at all and starts the export worker
(`backends.local.export_worker`) for the torch work; `memory` says what the merge and the files
need; `modelfile` writes Ollama's template; `checks` judges the worker's answers; `card` writes the
model card and the serve commands; `paths` names where an export lives.
"""
