"""Adapters between our components and frameworks (LangChain); framework objects stay in here."""
