"""Hybrid retrieval over the published entries.

Small parts, composed in one visible place (`index.py`):
  lexical.py     BM25 over Chinese character n-grams
  dense.py       FAISS inner-product search over sentence embeddings
  fusion.py      per-entry fusion of the two rankers into one candidate list
  confidence.py  a calibrated probability that the top candidate is right
  index.py       the index built from entries; search
  holder.py      the current index of a worker, swapped atomically when a publish arrives
"""
from knowledge_base.retrieval.index import Candidate, RetrievalIndex, SearchResult

__all__ = ["Candidate", "RetrievalIndex", "SearchResult"]
