"""Turns documents into an index: load -> chunk -> embed into Chroma (and BM25)."""
