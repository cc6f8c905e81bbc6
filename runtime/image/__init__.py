"""Images: a content-addressed layer store, image configs, and the built-in bases."""
