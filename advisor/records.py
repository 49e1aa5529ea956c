"""Evidence records: dataclasses that write report.json's sections and read them back, old schemas included."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar


@dataclasses.dataclass
class Record:
    """A report section as a dataclass. `to_dict` leaves out optional fields that were never set (None), so a
    report written through a record holds the keys it always held; `from_dict` reads any schema's section:
    missing keys take their defaults, keys the record does not know are kept in `extra` and written back.
    `nested` names the fields that hold records of their own (field name -> class with from_dict)."""

    nested: ClassVar[dict[str, Any]] = {}

    def to_dict(self) -> dict:
        out = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if spec.name == "extra" or (value is None and spec.default is None):
                continue
            out[spec.name] = value.to_dict() if hasattr(value, "to_dict") else value
        return {**out, **getattr(self, "extra", {})}

    @classmethod
    def from_dict(cls, data: "dict | Record | None"):
        if isinstance(data, cls):
            return data
        data = dict(data or {})
        names = {spec.name for spec in dataclasses.fields(cls)} - {"extra"}
        known = {name: data.pop(name) for name in list(data) if name in names}
        for name, kind in cls.nested.items():
            if isinstance(known.get(name), dict):
                known[name] = kind.from_dict(known[name])
        if any(spec.name == "extra" for spec in dataclasses.fields(cls)):
            known["extra"] = data
        return cls(**known)
