"""platforms: several platforms through the same gates, pushed as one image index."""
