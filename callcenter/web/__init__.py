"""Web: ops API and metrics (this issue), agent desktop and supervisor pages (later)."""
