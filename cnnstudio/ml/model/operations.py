"""Raw Keras operations in functional models (``x + 3.0``, ``keras.ops.relu(x)``) as graph nodes.

Keras 3 records an operation applied to a symbolic tensor as an entry of the functional
config (``keras.src.ops.numpy.Add`` called ``"add"``) that is not in ``model.layers``. Its
call may mix tensors and constants in any order (``1.0 - x``), so an operation node keeps
the call itself in ``node.extra["call"]``: the Keras-serialized ``args`` and ``kwargs`` with
every input tensor replaced by ``{CALL_INPUT: port}``. ``node.extra["layer"]`` keeps the
serialized operation, as for any generic node, and the node's kind is e.g. ``"Add (op)"``.
The sum or product of two tensors of one shape becomes the catalog's ``Add`` / ``Multiply``.
"""

from __future__ import annotations

from typing import Any, Callable

from cnnstudio.core.graph import CALL_INPUT

#: Operation classes that are the catalog merge layer of that name when applied to two tensors of one shape.
MERGES = ("Add", "Multiply")


def operation_kind(class_name: str) -> str:
    """The graph kind of an operation node, ``'Add'`` -> ``'Add (op)'``: never a catalog or Keras class name."""
    return f"{class_name} (op)"


def read_call(node_data: dict) -> tuple[list[dict], dict]:
    """``(input tensors by port, call)`` of one recorded operation call.

    Each input is the tensor's Keras config (``shape``, ``keras_history``...); a tensor used
    twice (``x * x``) is one input used at two places of the call.
    """
    tensors: list[dict] = []

    def walk(v: Any) -> Any:
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            history = list(v["config"]["keras_history"])
            ports = [list(t["keras_history"]) for t in tensors]
            if history not in ports:
                tensors.append(v["config"])
                ports.append(history)
            return {CALL_INPUT: ports.index(history)}
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        return v
    call = {"args": walk(node_data.get("args", [])), "kwargs": walk(node_data.get("kwargs", {}))}
    return tensors, call


def merge_kind(class_name: str, call: dict, shapes: list) -> str | None:
    """The catalog merge kind an operation call is, or ``None``.

    Only ``a + b`` / ``a * b`` of two different tensors of the same shape: the merge layer
    computes exactly that, while broadcasting or a constant operand needs the operation.
    """
    two = [{CALL_INPUT: 0}, {CALL_INPUT: 1}]
    if class_name not in MERGES or call["args"] != two or call["kwargs"] or len(shapes) != 2 or shapes[0] != shapes[1]:
        return None
    return class_name


def call_ports(call: dict) -> set[int]:
    """The input ports a recorded call uses."""
    def walk(v: Any) -> set[int]:
        if isinstance(v, dict) and set(v) == {CALL_INPUT}:
            return {v[CALL_INPUT]}
        values = v.values() if isinstance(v, dict) else v if isinstance(v, list) else ()
        return set().union(*map(walk, values))
    return walk([call["args"], call["kwargs"]])


def fill_call(call: dict, inputs: list, constant: Callable[[dict], Any]) -> tuple[list, dict]:
    """``(args, kwargs)`` of a recorded call with ``inputs`` in place (by port).

    ``constant`` turns a Keras-serialized constant (a slice, an array...) into what the
    caller needs: the object itself to call Keras, Python source to write a script.
    """
    def walk(v: Any) -> Any:
        if isinstance(v, dict) and set(v) == {CALL_INPUT}:
            return inputs[v[CALL_INPUT]]
        if isinstance(v, dict) and "class_name" in v:
            return constant(v)
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v
    return walk(call["args"]), walk(call["kwargs"])


__all__ = ["call_ports", "fill_call", "merge_kind", "operation_kind", "read_call"]
