"""genbot package."""
