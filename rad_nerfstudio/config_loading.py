"""Configs that still load from a run's ``config.yml`` written by an older rad-nerfstudio.

nerfstudio reads ``config.yml`` with PyYAML, which restores each config object without calling ``__init__``. A field
with a plain default that the file lacks falls back to the class attribute; one with a ``default_factory`` has none,
so a run saved before such a field was added would fail with ``AttributeError`` in ``ns-eval``, ``ns-viewer``,
``rad-eval`` or ``rad-render``. ``FilledOnLoad`` gives those fields their defaults instead, reads a renamed field's
value from its old name (``renamed_fields``), and gives a field added with a new behaviour the value that reproduces
what older runs did (``older_runs_values``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Dict


class FilledOnLoad:
    """Mixin for dataclass configs: fields missing from a loaded (or unpickled) state get their defaults."""

    renamed_fields: ClassVar[Dict[str, str]] = {}
    """Old name -> new name of fields renamed since runs were saved."""
    older_runs_values: ClassVar[Dict[str, Any]] = {}
    """Field -> the value a run saved before the field existed was trained with (where the default differs)."""

    def __setstate__(self, state: Dict[str, Any]) -> None:
        for old, new in self.renamed_fields.items():
            if old in state:
                state.setdefault(new, state.pop(old))
        for name, value in self.older_runs_values.items():
            state.setdefault(name, value)
        for config_field in dataclasses.fields(self):  # pyright: ignore[reportArgumentType]
            if config_field.name not in state and config_field.default_factory is not dataclasses.MISSING:
                state[config_field.name] = config_field.default_factory()
        self.__dict__.update(state)
