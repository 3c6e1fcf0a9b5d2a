"""What a model knows, measured from its weights: surprise, attention, cells, embeddings.

Each module takes a model (and a tokenizer) and returns plain dataclasses of floats and
strings; nothing here trains, imports a trainer or renders. The dashboard's Inspect screen
and ``llmv0 inspect`` draw the results.
"""
