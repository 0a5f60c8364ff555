"""What experiments are made of: benchmarks, training sets, judges and base models, by name."""
