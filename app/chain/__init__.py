"""The answering chain: condense -> retrieve -> judge relevance -> pack sources -> model -> citations.

LangChain objects stay inside this package and app/adapters; callers get app.types dataclasses.
"""
