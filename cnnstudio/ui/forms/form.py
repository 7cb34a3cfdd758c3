"""The one way a form gets its editors: :func:`make_field` for a Param, :class:`FieldSet` for a settings form.

The inspector applies each ``committed`` value at once (one undoable edit per change);
the settings forms collect their fields in a :class:`FieldSet`, which remembers what the
user changed, section by section, until the page commits it.
"""

from __future__ import annotations

from typing import Any, Mapping

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from cnnstudio.core.params import Param

from cnnstudio.ui.forms.fields import BoolField, ChoiceField, FloatField, IntField, OptionalField, ParamField, TextField
from cnnstudio.ui.forms.multi import IntsField, NamesField, PairsField

_FIELDS = {"int": IntField, "float": FloatField, "bool": BoolField, "choice": ChoiceField, "pairs": PairsField}


def make_field(param: Param, parent: QWidget | None = None, kind: type[ParamField] | None = None,
               **look: Any) -> ParamField:
    """The editor for ``param``: typed by its type (or ``kind``), wrapped in an 'auto' box when optional.

    ``look`` goes to the editor (``suffix=" px"``, ``special="off"``, ``text=...``, ...).
    """
    if kind is None:
        if param.type == "ints" and param.length:
            kind = IntsField
        elif param.type == "names" and param.choices:
            kind = NamesField
        else:
            kind = _FIELDS.get(param.type, TextField)
    field = kind(param, parent, **look)
    return OptionalField(param, field, parent) if param.optional else field


class FieldSet(QObject):
    """The fields of one settings form, by section; ``edited`` fires on a user change (never on :meth:`load`)."""

    edited = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.fields: dict[tuple[str, str], ParamField] = {}
        self._edits: dict[str, dict[str, Any]] = {}  # changed by the user since the last take_edits()

    def field(self, section: str, param: Param, kind: type[ParamField] | None = None, **look: Any) -> ParamField:
        """A new editor for ``section``'s ``param`` (see :func:`make_field`), registered here."""
        field = make_field(param, None, kind, **look)
        self.fields[section, param.name] = field
        field.committed.connect(lambda value: self._on_field_committed(section, param, value))
        return field

    def _on_field_committed(self, section: str, param: Param, value: Any) -> None:
        self._edits.setdefault(section, {})[param.name] = param.coerce(value)
        self.edited.emit()

    def load(self, section: str, values: Mapping[str, Any]) -> None:
        """Show ``values`` in ``section``'s fields (by setting name)."""
        for (sec, name), field in self.fields.items():
            if sec == section and name in values:
                field.set_value(values[name])

    def take_edits(self) -> dict[str, dict[str, Any]]:
        """``{section: {name: coerced value}}`` of the fields the user changed since the last call."""
        edits, self._edits = self._edits, {}
        return edits
