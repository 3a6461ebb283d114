"""Retrieval: naming and loading embedding models (never training them), the index, lexical scoring, the retriever,
confidence and its calibration, the intent classifier. Knows no storage, service or channel."""
