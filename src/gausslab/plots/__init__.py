"""Pictures: image grids and scatter plots (`grids`), pictures of 2-D toys and push-forwards (`toys`)."""
