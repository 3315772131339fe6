"""Staffing to the 15-second target: call forecasts per half hour and the agents they need (Erlang C and A)."""
