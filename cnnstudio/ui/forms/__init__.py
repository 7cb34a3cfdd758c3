"""The form engine shared by the pages: one editor per :class:`~cnnstudio.core.params.Param`.

The inspector edits a layer's parameters and the Training page its settings with the
same editors, made from the same description (type, range, choices and their titles,
doc as the tool tip, optional values behind an 'auto' box).
"""

from cnnstudio.ui.forms.fields import (BoolField, ChoiceField, FloatField, IntField, OptionalField, ParamField, PercentField,
                     SliderField, TextField)
from cnnstudio.ui.forms.form import FieldSet, make_field
from cnnstudio.ui.forms.multi import IntsField, NamesField, PairsField

__all__ = ["BoolField", "ChoiceField", "FieldSet", "FloatField", "IntField", "IntsField", "NamesField",
           "OptionalField", "PairsField", "ParamField", "PercentField", "SliderField", "TextField", "make_field"]
