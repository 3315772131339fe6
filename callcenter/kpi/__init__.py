"""KPIs computed from the platform's own records (exact, reproducible)."""
