"""Fine-tuning: training data exported from a suite's best prompt version."""
