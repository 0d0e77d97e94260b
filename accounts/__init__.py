"""Who may use csmatch: users with one role each, their passwords, and API tokens for scripts."""
