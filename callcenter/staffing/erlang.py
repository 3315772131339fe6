"""Queueing formulas for staffing: Erlang B, Erlang C (callers wait forever) and Erlang A (callers abandon).

Conventions: ``traffic`` A = arrival rate × average handling time, in erlangs; ``agents`` N; times in seconds.
The service level is the share of *offered* callers answered within ``t`` seconds: abandons count in the
denominator, exactly as the hotline's KPI 1 counts them.

Erlang A (Palm's M/M/N+M) is computed exactly from its birth-death chain: the probability an arrival finds
n callers (PASTA), then, for each n ≥ N, the probability that the caller is answered before both ``t`` and its
own exponential patience, by uniformization of the small absorbing chain "k callers ahead of me".
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability of an M/M/N/N system (the stable recursion, no factorials)."""
    if agents < 0 or traffic < 0:
        raise ValueError("agents and traffic must not be negative")
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a caller has to wait (M/M/N); 1.0 when the agents cannot carry the traffic."""
    if agents <= traffic:
        return 1.0
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1 - b))


def service_level_c(agents: int, traffic: float, aht_s: float, t_s: float) -> float:
    """Share of callers answered within ``t_s`` seconds when nobody abandons (Erlang C)."""
    if agents <= traffic:
        return 0.0
    return 1.0 - erlang_c(agents, traffic) * math.exp(-(agents - traffic) * t_s / aht_s)


@dataclass(frozen=True)
class ErlangA:
    """Steady-state figures of an M/M/N+M queue."""

    service_level: float  # answered within t ÷ offered
    abandon_rate: float  # abandoned ÷ offered
    wait_probability: float  # arrivals who find every agent busy
    occupancy: float  # busy agents ÷ agents


def _chain(agents: int, lam: float, mu: float, theta: float, eps: float = 1e-10) -> list[float]:
    """Stationary probabilities π_0..π_K of the number of callers in the system (K where the tail is < eps)."""
    weights = [1.0]
    n = 0
    total = 1.0
    while True:
        n += 1
        death = min(n, agents) * mu + max(n - agents, 0) * theta
        if death <= 0:
            raise ValueError("the queue is unstable (no agents and no abandonment)")
        w = weights[-1] * lam / death
        weights.append(w)
        total += w
        if n > agents and (w / total < eps or n > agents + 100_000):
            break
        if n > 10 * agents + 10_000 and theta == 0 and lam >= agents * mu:
            raise ValueError("the queue is unstable: traffic ≥ agents and callers never abandon")
    return [w / total for w in weights]


def _answered_within(ahead_max: int, agents: int, mu: float, theta: float, t_s: float) -> list[float]:
    """P(answered within t | k callers ahead on arrival), k = 0..ahead_max, for a caller who abandons at
    rate θ while each caller ahead leaves at rate Nμ (served, first in line) + kθ (abandons)."""
    if t_s <= 0:
        return [0.0] * (ahead_max + 1)
    top = agents * mu + ahead_max * theta + theta
    lam_t = top * t_s
    # v[k] after m uniformized steps: P(served within those m steps | k ahead); served state = 1
    v = [0.0] * (ahead_max + 1)
    result = [0.0] * (ahead_max + 1)
    weight = math.exp(-lam_t)
    m = 0
    cumulative = weight
    while True:
        for k in range(ahead_max + 1):
            result[k] += weight * v[k]
        if 1.0 - cumulative < 1e-13 and m > lam_t:
            break
        nxt = [0.0] * (ahead_max + 1)
        for k in range(ahead_max + 1):
            move = (agents * mu + k * theta) / top
            stay = 1.0 - move - theta / top
            nxt[k] = move * (1.0 if k == 0 else v[k - 1]) + stay * v[k]
        v = nxt
        m += 1
        weight *= lam_t / m
        cumulative += weight
        if m > 100_000:
            break
    return result


def erlang_a(agents: int, calls_per_s: float, aht_s: float, patience_s: float | None, t_s: float) -> ErlangA:
    """Service level, abandonment, wait probability and occupancy with ``agents`` agents. ``patience_s``:
    the callers' mean patience (exponential); None = they never abandon (then this is Erlang C)."""
    if agents <= 0:
        raise ValueError("agents must be positive")
    mu = 1.0 / aht_s
    theta = 0.0 if patience_s is None else 1.0 / patience_s
    lam = calls_per_s
    if theta == 0.0:
        traffic = lam * aht_s
        if agents <= traffic:
            return ErlangA(0.0, 0.0, 1.0, 1.0)
        pw = erlang_c(agents, traffic)
        return ErlangA(service_level_c(agents, traffic, aht_s, t_s), 0.0, pw, traffic / agents)
    pi = _chain(agents, lam, mu, theta)
    wait_p = sum(pi[agents:])
    ahead_max = max(len(pi) - 1 - agents, 0)
    within = _answered_within(ahead_max, agents, mu, theta, t_s)
    sl = sum(pi[:agents]) + sum(pi[agents + k] * within[k] for k in range(ahead_max + 1) if agents + k < len(pi))
    queued = sum((n - agents) * p for n, p in enumerate(pi) if n > agents)
    busy = sum(min(n, agents) * p for n, p in enumerate(pi))
    abandon = theta * queued / lam if lam > 0 else 0.0
    return ErlangA(sl, abandon, wait_p, busy / agents)


def required_agents(calls_per_s: float, aht_s: float, target: float = 0.95, t_s: float = 15.0,
                    patience_s: float | None = None, max_agents: int = 5000) -> int:
    """The fewest agents whose service level (answered within ``t_s`` ÷ offered) reaches ``target``."""
    if calls_per_s <= 0:
        return 0
    if not 0 < target < 1:
        raise ValueError("target is a share between 0 and 1")
    def ok(n: int) -> bool:
        return erlang_a(n, calls_per_s, aht_s, patience_s, t_s).service_level >= target

    # the service level grows with the agents: find a bound that meets the target, then bisect
    low, high = 0, max(1, math.ceil(calls_per_s * aht_s))
    while not ok(high):
        low, high = high, high * 2
        if high > max_agents:
            if ok(max_agents):
                high = max_agents
                break
            raise ValueError(f"more than {max_agents} agents needed")
    while high - low > 1:
        mid = (low + high) // 2
        if ok(mid):
            high = mid
        else:
            low = mid
    return high
