"""isobench runtime."""
