"""`kb model-server`: our engine alone behind the OpenAI-compatible API, for app processes on
other machines (KB_MODEL_URL)."""
