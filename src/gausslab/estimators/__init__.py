"""scikit-learn-style estimators built on the models and the one trainer (`GaussianMixture`)."""
