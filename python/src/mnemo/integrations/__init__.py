"""Adapters for frameworks, each a few lines over mnemo.Model. Importing one
needs its framework (the extras: pip install "mnemo[langchain]",
"mnemo[llama-index]")."""
