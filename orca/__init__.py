"""Training package for explanation tuning: data building, tokenization, packing, training."""
