"""Exhaustive sweeps of the narrow formats, and a worst-case search for float64.

chunk.py       one chunk of consecutive bit patterns, measured in the worker process
summary.py     what a sweep accumulates over its chunks (histogram, worst inputs, ...)
checkpoint.py  finished chunks on disk, so that a killed sweep resumes where it was
run.py         the sweep itself: workers, progress, the verdict, results.json
float64.py     float64 cannot be exhausted: a search for its worst inputs
"""
