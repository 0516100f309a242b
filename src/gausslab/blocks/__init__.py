"""Building blocks of the models: networks (`nets`), latent priors (`priors`), observation models (`likelihoods`)."""
