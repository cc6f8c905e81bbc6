"""isobench reports."""
