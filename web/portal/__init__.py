"""The provider portal: a provider organisation's own referrals and capacity."""
