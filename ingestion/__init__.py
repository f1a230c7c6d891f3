"""Documents in: loaders -> splitter -> embedder -> store (SQL + FAISS). Knows nothing of the model."""
