"""Provider capacity: the board, changes over time, and recording reports."""
