"""Output production: the scenario layer, the rendered video, and each generation's own CDN file."""
