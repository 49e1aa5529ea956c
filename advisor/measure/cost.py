"""Prices measured compute time: one-off costs apart from costs per 1,000 queries."""

from __future__ import annotations

from dataclasses import dataclass

# USD per hour of the hardware kind, as rented on demand; dated so a reader can judge them.
PRICES_AS_OF = "2026-11"
PRICE_PER_HOUR = {
    "cpu": 0.10,   # a 2-4 vCPU cloud instance
    "mps": 0.25,   # a laptop-class Apple silicon machine, amortized
    "cuda": 2.50,  # one data-centre GPU (H100 class)
}


def price_per_hour(device: str, override: float | None = None) -> float:
    return float(override) if override is not None else PRICE_PER_HOUR.get(device, PRICE_PER_HOUR["cpu"])


@dataclass(frozen=True)
class ComputeCost:
    """Seconds of compute; priced only at the end, so costs add up before rounding."""

    one_off_seconds: float = 0.0
    seconds_per_query: float = 0.0

    def __add__(self, other: "ComputeCost") -> "ComputeCost":
        return ComputeCost(self.one_off_seconds + other.one_off_seconds,
                           self.seconds_per_query + other.seconds_per_query)

    def priced(self, usd_per_hour: float) -> dict:
        return {"one_off": self.one_off_seconds * usd_per_hour / 3600,
                "per_1k_queries": self.seconds_per_query * 1000 * usd_per_hour / 3600}
