"""Our Llama decoder: config, layers, attention + KV cache, weights, tokenizer, sampling, generation.

Imports only torch, numpy, safetensors, gguf, tokenizers and jinja2 (chat templates);
never app/ingestion/ui.
"""
