"""isobench bench."""
