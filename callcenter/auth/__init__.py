"""People and platforms: users, roles, password hashing, sessions, API tokens, login throttling."""
