"""What experiments are made of: datasets (benchmarks, training sets, validation sets) and base models."""
