"""Retrieval: a query and a scope in, `Hit`s out; whole documents and sentences for analysis.

`scope` is the one rule for what a case may see (the `where` of every store read, and `admit`
at the boundary where sources enter a draft); `hybrid` ranks chunks by dense (Chroma) and BM25
(the store's tantivy index, `ingest.lexical`) fused by `fusion`; `passages` rebuilds documents
from their chunks and splits them into citable sentences, every read scoped.
"""
