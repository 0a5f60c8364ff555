"""Base models by reference: embedded SmolLM2 (converted and prepared once), hub ids and local paths."""
