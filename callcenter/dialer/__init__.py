"""Outbound calls (click-to-call now; callbacks, follow-ups and emergency notification later) with pacing."""
