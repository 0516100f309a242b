"""Pictures: image grids and scatter plots (`grids`), pictures of 2-D toys and push-forwards (`toys`), pictures of
one trained model (`run_figures`) and charts of measured numbers (`charts`); callers choose what to draw."""
