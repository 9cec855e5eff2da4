"""The HTTP layer: the app factory, one blueprint per concern, and what they share."""
