"""Data in and out: prompt files, documents and chunks, near-duplicate keys, BM25
retrieval, and the one place for JSON/JSONL reading and atomic writes.
"""
