"""ACD: live queue and agent state, agent commands (login, logout, pause)."""
