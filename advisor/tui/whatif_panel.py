"""The results screen's what-if panel: the run's constraints and price per hour, editable, each edit posted at once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from advisor.config import AdvisorConfig, Constraints
from advisor.tui.setup_screen import NUMBER_CONSTRAINTS as NUMBER_KINDS  # the setup screen's constraint fields

PRICE = "price_per_hour"


class WhatIfPanel(VerticalScroll):
    """One field per constraint (drawn from advisor.config.Constraints, with its help text) and the price per hour;
    the screen decides again with advisor.what_if on every Edited and says back here what changed."""

    BINDINGS = [Binding("escape", "close", "Close what-if")]
    DEFAULT_CSS = """
    WhatIfPanel { dock: right; width: 46; height: 100%; display: none; padding: 0 1;
                  border-left: vkey $primary-background; background: $surface; }
    WhatIfPanel.-open { display: block; }
    WhatIfPanel .title { text-style: bold; color: $accent; }
    WhatIfPanel .field { margin-top: 1; color: $text-muted; }
    WhatIfPanel Input, WhatIfPanel Select { width: 100%; }
    WhatIfPanel #whatif-status { margin-top: 1; height: auto; }
    WhatIfPanel #whatif-status.-bad { color: $error; }
    WhatIfPanel Button { margin-top: 1; }
    """

    @dataclass
    class Edited(Message):
        """The panel's values: constraints as advisor.config.Constraints takes them, and the price (None: the run's)."""

        constraints: dict
        price_per_hour: float | None

    class Closed(Message):
        pass

    class WriteAsked(Message):
        pass

    def __init__(self, constraints: dict, price_per_hour: float | None):
        super().__init__(id="whatif")
        self.constraints, self.price = constraints, price_per_hour

    def compose(self) -> ComposeResult:
        yield Label("What if: your constraints and price", classes="title")
        yield Static("Each edit decides again from report.json, with no model; Esc closes and shows the run's own "
                     "verdict again.", classes="field")
        for spec in dataclasses.fields(Constraints):
            name, value = spec.name, self.constraints.get(spec.name)
            yield Static(Constraints.help_text(name), markup=False, classes="field")
            if spec.metadata.get("choices"):
                yield Select([(choice, choice) for choice in spec.metadata["choices"]], value=value,
                             allow_blank=False, id=f"whatif-{name}")
            elif isinstance(value, bool):
                yield Checkbox(name.replace("_", " "), value, id=f"whatif-{name}")
            else:
                yield Input("" if value is None else f"{value:g}", type="integer" if NUMBER_KINDS[name] is int
                            else "number", placeholder="not stated", id=f"whatif-{name}", valid_empty=True)
        yield Static(AdvisorConfig.help_text(PRICE).split(" (default")[0], markup=False, classes="field")
        yield Input("" if self.price is None else f"{self.price:g}", type="number", placeholder="the run's price",
                    id=f"whatif-{PRICE}", valid_empty=True)
        yield Static("", markup=False, id="whatif-status")
        yield Button("Write beside the run (whatif/)", id="whatif-write")

    def values(self) -> tuple[dict, float | None]:
        """The fields as typed: constraints and price; a number that does not read is a ValueError naming it."""
        constraints = {}
        for spec in dataclasses.fields(Constraints):
            widget = self.query_one(f"#whatif-{spec.name}")
            if isinstance(widget, Input):
                constraints[spec.name] = _number(widget.value, NUMBER_KINDS[spec.name], spec.name)
            else:
                constraints[spec.name] = widget.value
        return constraints, _number(self.query_one(f"#whatif-{PRICE}", Input).value, float, PRICE)

    def say(self, text: str, bad: bool = False) -> None:
        status = self.query_one("#whatif-status", Static)
        status.update(text)
        status.set_class(bad, "-bad")

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _edited(self, event: Message) -> None:
        event.stop()
        try:
            constraints, price = self.values()
        except ValueError as exc:
            self.say(str(exc), bad=True)
            return
        self.post_message(self.Edited(constraints, price))

    @on(Button.Pressed, "#whatif-write")
    def _write(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.WriteAsked())

    def action_close(self) -> None:
        self.post_message(self.Closed())


def _number(text: str, kind: type, name: str) -> float | int | None:
    """A typed number, or None for an empty field (not stated)."""
    if not text.strip():
        return None
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name.replace('_', ' ')} must be a number, not {text!r}") from None
