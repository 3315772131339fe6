"""Sharing live ACD state between processes (Redis), optional."""
