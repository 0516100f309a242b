"""Evaluation: every metric that applies to a trained model (`evaluate`), in the feature space of a
network trained on the data set (`features`)."""
