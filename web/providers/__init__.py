"""The provider roster as plan staff see it."""
