"""See through operands nothing can read, without running anything: derive their shapes.

An operand such as ``np.tanh(x)``, ``k.transpose(-2, -1)``, ``h.sum(axis=1)`` or ``f(x)[0]``
is the result of a call or an expression the debugger must not evaluate again. When its own
operands are known (read from the frame, or derived in turn) and the function is one whose
result shape a rule of :mod:`~tensorsight.debugger.clarifying.shapes` gives (element-wise
functions, reductions, transposes and permutations, reshapes, flatten/squeeze/unsqueeze,
matrix products, indexing), its shape is computed from theirs and reported as inferred.
A user's own function is never guessed at.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tensorsight.debugger.clarifying import shapes
from tensorsight.debugger.clarifying.operands import INFERRED, UNKNOWN, Operand
from tensorsight.debugger.clarifying.shapes import Shape
from tensorsight.debugger.frames import Unreadable, array_library, called_name, library_callable

if TYPE_CHECKING:
    from tensorsight.debugger.clarifying.context import Context

ONE_OPERAND = frozenset(
    {
        # one operand
        "abs",
        "absolute",
        "sqrt",
        "rsqrt",
        "exp",
        "exp2",
        "expm1",
        "log",
        "log2",
        "log10",
        "log1p",
        "sin",
        "cos",
        "tan",
        "tanh",
        "sinh",
        "cosh",
        "arcsin",
        "arccos",
        "arctan",
        "asin",
        "acos",
        "atan",
        "sigmoid",
        "relu",
        "relu6",
        "gelu",
        "silu",
        "elu",
        "selu",
        "leaky_relu",
        "softplus",
        "hardswish",
        "hardtanh",
        "logit",
        "erf",
        "sign",
        "floor",
        "ceil",
        "round",
        "trunc",
        "neg",
        "negative",
        "square",
        "reciprocal",
        "clip",
        "clamp",
        "nan_to_num",
        "isnan",
        "isfinite",
        "isinf",
        "logical_not",
        "float",
        "double",
        "half",
        "int",
        "long",
        "bool",
        "contiguous",
        "detach",
        "clone",
        "cpu",
        "astype",
        "softmax",
        "log_softmax",
        "dropout",
        "conj",
        "real",
        "imag",
        "copy",
    }
)
# Functions of several operands, broadcast together (dispatch adds their in-place forms).
BROADCAST_FUNCTIONS = frozenset(
    {
        "add",
        "subtract",
        "sub",
        "multiply",
        "mul",
        "divide",
        "div",
        "true_divide",
        "floor_divide",
        "power",
        "pow",
        "maximum",
        "minimum",
        "where",
        "fmax",
        "fmin",
        "hypot",
        "arctan2",
        "atan2",
        "logical_and",
        "logical_or",
        "equal",
        "eq",
        "ne",
        "not_equal",
        "less",
        "greater",
        "lt",
        "gt",
        "le",
        "ge",
        "remainder",
        "mod",
    }
)
ELEMENTWISE = ONE_OPERAND | BROADCAST_FUNCTIONS
REDUCTIONS = frozenset(
    {
        "sum",
        "mean",
        "prod",
        "std",
        "var",
        "amax",
        "amin",
        "nansum",
        "nanmean",
        "all",
        "any",
        "argmax",
        "argmin",
        "logsumexp",
        "max",
        "min",
        "median",
    }
)
# Functions that make an array of the shape their arguments give (``np.ones((3, 5))``,
# ``torch.zeros(2, 4)``): nothing to derive from, but nothing to run again either.
CONSTRUCTORS = frozenset({"ones", "zeros", "empty", "full", "rand", "randn"})
# Functions that join a list of arrays along an existing dim, or along a new one.
JOINS = frozenset({"cat", "concat", "concatenate", "stack"})
# Torch's max/min/median with a dim return (values, indices), not one tensor.
PAIR_REDUCTIONS = frozenset({"max", "min", "median"})


def infer(context: Context, node: ast.expr, label: str) -> Operand | None:
    """The shape of plain arithmetic on readable operands (``(a @ b)``, ``-x``)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Invert):
        inner = context.operand(node.operand)
        return _as_inferred(inner, label, node) if inner.is_tensor else None
    if not isinstance(node, ast.BinOp):
        return None
    return _binary(context.operand(node.left), node.op, context.operand(node.right), label, node)


def _as_inferred(operand: Operand, label: str, node: ast.expr) -> Operand:
    return replace(operand, label=label, origin=INFERRED, value=None, node=node)


def _binary(
    left: Operand, op: ast.operator, right: Operand, label: str, node: ast.expr
) -> Operand | None:
    if left.shape is None or right.shape is None or not (left.is_tensor or right.is_tensor):
        return None
    if isinstance(op, ast.MatMult):
        shape = shapes.matmul_shape(left.shape, right.shape)
    else:
        shape = shapes.broadcast_shape([left.shape, right.shape])
    tensor = left if left.is_tensor else right
    return _result(label, shape, tensor, node)


def _result(label: str, shape: Shape | None, like: Operand, node: ast.expr) -> Operand | None:
    if shape is None:
        return None
    return Operand(label, shape, None, like.device, INFERRED, like.framework, node=node)


def derive_unknown(context: Context, operands: Sequence[Operand]) -> list[Operand]:
    """``operands`` with every unknown one whose shape the rules derive filled in."""
    return [
        (derived(context, op.node) or op) if op.origin == UNKNOWN and op.node is not None else op
        for op in operands
    ]


def known(context: Context, node: ast.expr) -> Operand:
    """The operand ``node``: read, inferred or derived; unknown when none of them sees it."""
    operand = context.operand(node)
    if operand.origin != UNKNOWN:
        return operand
    return derived(context, node) or operand


def derived(context: Context, node: ast.expr) -> Operand | None:
    """The operand ``node`` with its shape derived from its own operands, or None."""
    label = context.text(node)
    match node:
        case ast.BinOp(left=left, op=op, right=right):
            return _binary(known(context, left), op, known(context, right), label, node)
        case ast.UnaryOp(op=ast.USub() | ast.UAdd() | ast.Invert(), operand=inner):
            found = known(context, inner)
            return _as_inferred(found, label, node) if found.is_tensor else None
        case ast.Attribute(value=owner, attr="T" | "mT" | "H" | "mH" as attr):
            found = known(context, owner)
            if not found.is_tensor or found.shape is None:
                return None
            shape = (
                shapes.matrix_transposed(found.shape)
                if attr.startswith("m")
                else shapes.permuted_shape(found.shape, None)
            )
            return _result(label, shape, found, node)
        case ast.Subscript(value=container, slice=index):
            return _indexed(context, known(context, container), index, label, node)
        case ast.Call():
            return _called(context, node, label)
    return None


def _indexed(
    context: Context, container: Operand, index: ast.expr, label: str, node: ast.expr
) -> Operand | None:
    if not container.is_tensor or container.shape is None:
        return None
    try:
        value = context.read(index)
    except Unreadable:
        return None
    items: list[shapes.IndexItem] = []
    for item in value if isinstance(value, tuple) else (value,):
        described = Operand.of("", item)
        if described.framework and described.shape is not None:
            if described.dtype == "bool":
                return None  # a mask's result depends on its values
            items.append(described.shape)
        elif isinstance(item, list) and all(isinstance(part, int) for part in item):
            items.append((len(item),))
        elif item is None or item is Ellipsis or isinstance(item, int | slice):
            items.append(item)
        else:
            return None
    return _result(label, shapes.indexed_shape(container.shape, items), container, node)


@dataclass(frozen=True)
class Arguments:
    """A call's arguments after the array it works on, as far as they can be read.

    ``positional`` holds :data:`UNREADABLE` for arguments that are not literals or names.
    """

    positional: tuple[Any, ...]
    keywords: Mapping[str, Any]

    def get(self, names: Sequence[str], position: int | None, default: Any) -> Any:
        """A keyword (any of ``names``) or positional argument, else ``default``."""
        for name in names:
            if name in self.keywords:
                return self.keywords[name]
        if position is not None and position < len(self.positional):
            return self.positional[position]
        return default


UNREADABLE = object()


def arguments(
    context: Context, positional: Sequence[ast.expr], keywords: Sequence[ast.keyword]
) -> Arguments:
    """The :class:`Arguments` of a call, read without running anything."""
    values = _read_all(context, [keyword.value for keyword in keywords])
    named = {str(keyword.arg): value for keyword, value in zip(keywords, values, strict=True)}
    return Arguments(_read_all(context, positional), named)


def _read_all(context: Context, nodes: Sequence[ast.expr]) -> tuple[Any, ...]:
    values = []
    for node in nodes:
        try:
            values.append(context.read(node))
        except Unreadable:
            values.append(UNREADABLE)
    return tuple(values)


def _called(context: Context, node: ast.Call, label: str) -> Operand | None:
    """A library call's result from its array operand(s) and its readable arguments."""
    if any(isinstance(arg, ast.Starred) for arg in node.args) or any(
        keyword.arg is None for keyword in node.keywords
    ):
        return None  # *args or **kwargs: which argument is which is not known
    short = called_name(node.func).rsplit(".", 1)[-1]
    found = _callee(context, node)
    if found is None:
        return None
    function, receiver = found
    if receiver is None and short in CONSTRUCTORS:
        return _constructed(context, node, function, label, only_first=short == "full")
    if receiver is None and short in JOINS:
        return _joined(context, node, short, label)
    if receiver is None and short == "einsum":
        return _einsum(context, node, label)
    positional = list(node.args)
    subject = receiver or (known(context, positional.pop(0)) if positional else None)
    if subject is None or not subject.is_tensor or subject.shape is None:
        return None
    others = [known(context, arg) for arg in positional]
    values = arguments(context, positional, node.keywords)
    rule = _RULES.get(short)
    if short in ELEMENTWISE:
        shape = _elementwise(subject, others)
    elif rule is not None:
        shape = rule(subject, others, values)
    else:
        return None
    return _result(label, shape, subject, node)


def _callee(context: Context, node: ast.Call) -> tuple[Any, Operand | None] | None:
    """What is called and the array it is a method of (None for a function); None when it is
    the user's own function, a layer, or a method of an object nothing can see."""
    try:
        function = context.read(node.func)
    except Exception:  # unreadable, or a property of the user's that raised
        function = None
    receiver = None
    if isinstance(node.func, ast.Attribute):
        owner = getattr(function, "__self__", None) if function is not None else None
        if function is None or Operand.of("", owner).framework:
            receiver = known(context, node.func.value)
    if receiver is None and (
        function is None or not library_callable(function) or _is_module(function)
    ):
        return None
    return function, receiver


def _constructed(
    context: Context, node: ast.Call, function: Any, label: str, only_first: bool
) -> Operand | None:
    """``np.ones((3, 5))``, ``torch.zeros(2, 4)``, ``np.full((2, 3), 7)``: the shape given
    (``full``'s second argument is the fill value, not a size)."""
    values = arguments(context, node.args, node.keywords)
    given = values.get(("size", "shape"), None, None)
    if given is None and values.positional:
        first = values.positional[0]
        alone = only_first or len(values.positional) == 1
        given = first if isinstance(first, list | tuple) or alone else values.positional
    shape = _ints(given) if given is not None and given is not UNREADABLE else None
    if shape is None or any(size < 0 for size in shape):
        return None
    framework = array_library(getattr(function, "__module__", None))
    return Operand(label, shape, None, None, INFERRED, framework, node=node)


def _joined(context: Context, node: ast.Call, short: str, label: str) -> Operand | None:
    """``np.concatenate([a, b], axis=1)``, ``torch.stack((x, y))``: from the parts' shapes."""
    if not node.args or not isinstance(node.args[0], ast.List | ast.Tuple):
        return None
    parts = [known(context, element) for element in node.args[0].elts]
    if not parts or any(not part.is_tensor or part.shape is None for part in parts):
        return None
    values = arguments(context, node.args[1:], node.keywords)
    axis = values.get(("axis", "dim"), 0, 0)
    if not isinstance(axis, int) or isinstance(axis, bool):
        return None
    shapes_of = [part.shape for part in parts if part.shape is not None]
    join = shapes.stacked if short == "stack" else shapes.concatenated
    return _result(label, join(shapes_of, axis), parts[0], node)


def _einsum(context: Context, node: ast.Call, label: str) -> Operand | None:
    """``einsum("ij,jk->ik", a, b)`` with an explicit output: from the operands' shapes."""
    if not node.args:
        return None
    try:
        spec = context.read(node.args[0])
    except Unreadable:
        return None
    parts = [known(context, arg) for arg in node.args[1:]]
    if (
        not isinstance(spec, str)
        or not parts
        or any(not part.is_tensor or part.shape is None for part in parts)
    ):
        return None
    shape = shapes.einsum_shape(spec, [part.shape for part in parts if part.shape is not None])
    return _result(label, shape, parts[0], node)


def _is_module(function: Any) -> bool:
    """A torch layer: its call is explained by the layer rules, never derived here."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(function, torch.nn.Module)


def _elementwise(subject: Operand, others: Sequence[Operand]) -> Shape | None:
    tensors = [subject, *(op for op in others if op.is_tensor)]
    if any(op.shape is None for op in tensors) or any(op.origin == UNKNOWN for op in others):
        return None
    return shapes.broadcast_shape([op.shape for op in tensors if op.shape is not None])


def _ints(value: Any) -> tuple[int, ...] | None:
    """A tuple of ints from an int, a sequence of ints or a ``torch.Size``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(part, int) for part in value):
        return tuple(value)
    return None


def _dims_from(values: Arguments) -> tuple[int, ...] | None:
    """Dims given one per argument (``permute(0, 2, 1)``) or as one sequence."""
    if UNREADABLE in values.positional:
        return None
    if len(values.positional) == 1:
        return _ints(values.positional[0])
    return _ints(values.positional)


def _reduction(subject: Operand, others: Sequence[Operand], values: Arguments) -> Shape | None:
    assert subject.shape is not None
    if not subject.shape and subject.framework == "torch":
        return ()  # torch reduces a 0-D tensor over dim 0 or -1 (an operand that ran used one)
    dims = values.get(("axis", "dim"), 0, None)
    keep = values.get(("keepdims", "keepdim"), 1, False)
    if dims is UNREADABLE or keep is UNREADABLE or not isinstance(keep, bool):
        return None
    if dims is not None and _ints(dims) is None:
        return None
    return shapes.reduced_shape(subject.shape, _ints(dims) if dims is not None else None, keep)


def _reduction_of(short: str) -> Callable[[Operand, Sequence[Operand], Arguments], Shape | None]:
    def rule(subject: Operand, others: Sequence[Operand], values: Arguments) -> Shape | None:
        pairs = short in PAIR_REDUCTIONS and subject.framework == "torch"
        if pairs and values.get(("dim",), 0, None) is not None:
            return None
        return _reduction(subject, others, values)

    return rule


def _transpose(subject: Operand, others: Sequence[Operand], values: Arguments) -> Shape | None:
    assert subject.shape is not None
    if subject.framework == "torch":
        first, second = values.get(("dim0",), 0, None), values.get(("dim1",), 1, None)
        if not isinstance(first, int) or not isinstance(second, int):
            return None
        return shapes.swapped_shape(subject.shape, first, second)
    axes = values.get(("axes",), None, None)
    if axes is None and values.positional:
        axes = _dims_from(values)
        if axes is None:
            return None
    return shapes.permuted_shape(subject.shape, _ints(axes) if axes is not None else None)


def _swap(subject: Operand, others: Sequence[Operand], values: Arguments) -> Shape | None:
    assert subject.shape is not None
    first = values.get(("axis1", "dim0"), 0, None)
    second = values.get(("axis2", "dim1"), 1, None)
    if not isinstance(first, int) or not isinstance(second, int):
        return None
    return shapes.swapped_shape(subject.shape, first, second)


def _permute(subject: Operand, others: Sequence[Operand], values: Arguments) -> Shape | None:
    assert subject.shape is not None
    order = _ints(values.keywords["dims"]) if "dims" in values.keywords else _dims_from(values)
    return shapes.permuted_shape(subject.shape, order) if order is not None else None


def _t(subject: Operand, others: Sequence[Operand], values: Arguments) -> Shape | None:
    assert subject.shape is not None
    return subject.shape[::-1] if subject.ndim <= 2 else None


def _reshape(subject: Operand, others: Sequence[Operand], values: Arguments) -> Shape | None:
    assert subject.shape is not None
    given = values.keywords.get("shape", values.keywords.get("newshape"))
    target = _ints(given) if given is not None else _dims_from(values)
    return shapes.reshaped(subject.shape, target) if target else None


def _flatten(subject: Operand, others: Sequence[Operand], values: Arguments) -> Shape | None:
    assert subject.shape is not None
    if subject.framework != "torch":
        return shapes.flattened(subject.shape)
    start = values.get(("start_dim",), 0, 0)
    end = values.get(("end_dim",), 1, -1)
    if not isinstance(start, int) or not isinstance(end, int):
        return None
    return shapes.flattened(subject.shape, start, end)


def _ravel(subject: Operand, others: Sequence[Operand], values: Arguments) -> Shape | None:
    assert subject.shape is not None
    return shapes.flattened(subject.shape)


def _squeeze(subject: Operand, others: Sequence[Operand], values: Arguments) -> Shape | None:
    assert subject.shape is not None
    dims = values.get(("axis", "dim"), 0, None)
    if dims is not None and _ints(dims) is None:
        return None
    return shapes.squeezed(
        subject.shape,
        _ints(dims) if dims is not None else None,
        lenient=subject.framework == "torch",
    )


def _unsqueeze(subject: Operand, others: Sequence[Operand], values: Arguments) -> Shape | None:
    assert subject.shape is not None
    dim = values.get(("axis", "dim"), 0, None)
    return shapes.unsqueezed(subject.shape, dim) if isinstance(dim, int) else None


def _matmul(subject: Operand, others: Sequence[Operand], values: Arguments) -> Shape | None:
    assert subject.shape is not None
    if not others or others[0].shape is None or not others[0].is_tensor:
        return None
    return shapes.matmul_shape(subject.shape, others[0].shape)


_RULES: dict[str, Callable[[Operand, Sequence[Operand], Arguments], Shape | None]] = {
    **{name: _reduction_of(name) for name in REDUCTIONS},
    "transpose": _transpose,
    "swapaxes": _swap,
    "swapdims": _swap,
    "permute": _permute,
    "t": _t,
    "reshape": _reshape,
    "view": _reshape,
    "flatten": _flatten,
    "ravel": _ravel,
    "squeeze": _squeeze,
    "unsqueeze": _unsqueeze,
    "expand_dims": _unsqueeze,
    "matmul": _matmul,
    "mm": _matmul,
    "bmm": _matmul,
    "mv": _matmul,
}
