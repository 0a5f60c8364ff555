"""Judged results made by other tools, read into what an evaluation-only experiment stores."""
