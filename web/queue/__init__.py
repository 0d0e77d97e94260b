"""The referral queue: what the care coordination lead works through."""
