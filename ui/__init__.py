"""Gradio pages (chat, documents, admin). Talks only to app.service."""
