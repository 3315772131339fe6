"""Call control of the agent desk: hang up, hold, transfers, three-way calls, click-to-call, listen-in."""
