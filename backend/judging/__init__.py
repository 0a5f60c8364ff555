"""Judges as data: how a judge definition is written and checked, and how well a judge agrees with people.

Nothing here runs a model; the worker (worker.judges) turns a definition into a judge.
"""
