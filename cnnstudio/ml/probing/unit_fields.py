"""Where a unit of a feature map looks in the input: its theoretical receptive field as a box.

Free of TensorFlow, so views can describe a hovered unit without the model.
The fields themselves come from core inference (:class:`cnnstudio.core.inference.ReceptiveField`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnstudio.core.inference import ReceptiveField


@dataclass(frozen=True)
class UnitField:
    """The theoretical receptive field of one unit (row, col) of a layer, in model-input pixels.

    ``box`` is ((top, bottom), (left, right)), inclusive, and may reach past the image:
    that part lies in the zero padding the convolutions added.
    """

    layer: str
    unit: tuple[int, int]
    field: ReceptiveField
    box: tuple[tuple[int, int], tuple[int, int]]
    image_size: tuple[int, int]

    @classmethod
    def of(cls, layer: str, field: ReceptiveField, unit: tuple[int, int], image_size: tuple[int, int]) -> "UnitField":
        """The field of ``unit`` (row, col) of a layer whose units all have ``field``."""
        unit = (int(unit[0]), int(unit[1]))
        return cls(layer, unit, field, field.box(unit), (int(image_size[0]), int(image_size[1])))

    @property
    def inside(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """The part of ``box`` on the image, or ``None`` if the field lies wholly in padding."""
        out = []
        for (a, b), n in zip(self.box, self.image_size):
            a, b = max(a, 0), min(b, n - 1)
            if a > b:
                return None
            out.append((a, b))
        return tuple(out)

    @property
    def padding_pixels(self) -> int:
        """How many of the field's pixels lie in the padding, off the image."""
        (t, b), (l, r) = self.box
        total = (b - t + 1) * (r - l + 1)
        inside = self.inside
        if inside is None:
            return total
        (ti, bi), (li, ri) = inside
        return total - (bi - ti + 1) * (ri - li + 1)

    def text(self) -> str:
        """``'unit (3, 5) of conv2: field 7x7 px at rows 4-10, cols 8-14, stride 2'`` (+ padding)."""
        (t, b), (l, r) = self.box
        size = "x".join(map(str, self.field.size))
        stride = self.field.stride[0] if len(set(self.field.stride)) == 1 else "x".join(map(str, self.field.stride))
        out = (f"unit ({self.unit[0]}, {self.unit[1]}) of {self.layer}: field {size} px "
               f"at rows {t}..{b}, cols {l}..{r}, stride {stride}")
        pad = self.padding_pixels
        if pad:
            out += f"; {pad} of {(b - t + 1) * (r - l + 1)} px in padding"
        return out
