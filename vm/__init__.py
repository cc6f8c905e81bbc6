"""isobench vm."""
