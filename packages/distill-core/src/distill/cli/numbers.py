"""Number options: click's FLOAT and FloatRange accept "nan" and "inf" (NaN passes every range check),
so every float option of the CLI uses these instead."""

from __future__ import annotations

import math
from typing import Any

import click


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that refuses NaN and infinities, naming the option."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number

    def _describe_range(self) -> str:
        return "" if self.min is None and self.max is None else super()._describe_range()


FINITE = FiniteFloatRange()


def finite_number(text: str) -> float:
    """A float parsed from KEY=NUMBER-style text; ValueError for anything that is not a finite number."""
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number
