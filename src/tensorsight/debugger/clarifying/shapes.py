"""Shape arithmetic: pure functions from shapes (and plain arguments) to shapes.

Nothing here sees a frame, an operand or a message; every rule says what NumPy, PyTorch and JAX
compute for the shapes it is given, or None when the shapes do not go together. The rules that
derive a call's result (:mod:`tensorsight.debugger.clarifying.derive`) and the rules that
explain a failure both use them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import EllipsisType

Shape = tuple[int, ...]
Conflict = tuple[int, int, int, int]  # operand i, its dim, operand j, its dim


def broadcast_conflicts(shapes: Sequence[Shape]) -> list[Conflict]:
    """Pairs of dims that cannot broadcast, aligned from the right, leftmost operand first.

    >>> broadcast_conflicts([(3, 4), (5,)])
    [(0, 1, 1, 0)]
    """
    conflicts = []
    for back in range(1, max((len(shape) for shape in shapes), default=0) + 1):
        sized = [
            (i, len(shape) - back, shape[-back])
            for i, shape in enumerate(shapes)
            if len(shape) >= back and shape[-back] != 1
        ]
        first = sized[0] if sized else None
        for other in sized[1:]:
            if first is not None and other[2] != first[2]:
                conflicts.append((first[0], first[1], other[0], other[1]))
                break
    return sorted(conflicts, key=lambda conflict: conflict[1])


def broadcast_shape(shapes: Sequence[Shape]) -> Shape | None:
    """The broadcast result, or None when the shapes do not broadcast.

    >>> broadcast_shape([(8, 1, 4), (3, 1)]), broadcast_shape([(3, 4), (5,)])
    ((8, 3, 4), None)
    """
    if not shapes or broadcast_conflicts(shapes):
        return None
    ndim = max(len(shape) for shape in shapes)
    padded = [(1,) * (ndim - len(shape)) + shape for shape in shapes]
    return tuple(max(sizes) for sizes in zip(*padded, strict=True))


def matmul_shape(a: Shape, b: Shape) -> Shape | None:
    """The shape of ``a @ b`` under NumPy/PyTorch rules, or None when they disagree.

    >>> matmul_shape((8, 3, 4), (4, 5)), matmul_shape((3, 4), (5, 6)), matmul_shape((4,), (4,))
    ((8, 3, 5), None, ())
    """
    if not a or not b or a[-1] != (b[-2] if len(b) >= 2 else b[0]):
        return None
    batch = broadcast_shape([a[:-2], b[:-2]]) if len(a) > 2 or len(b) > 2 else ()
    if batch is None:
        return None
    rows = a[-2:-1]
    return batch + rows + b[-1:] if len(b) >= 2 else batch + rows


def normalise_dim(dim: int, ndim: int) -> int | None:
    """``dim`` counted from the front (``-1`` is the last), or None when out of range.

    >>> normalise_dim(-1, 3), normalise_dim(3, 3), normalise_dim(0, 0)
    (2, None, None)
    """
    if not -ndim <= dim < ndim:
        return None
    return dim % ndim


def reduced_shape(shape: Shape, dims: int | Sequence[int] | None, keepdims: bool) -> Shape | None:
    """The shape after reducing ``dims`` (all when None), keeping them as size 1 or not.

    >>> reduced_shape((2, 3, 4), 1, False), reduced_shape((2, 3, 4), (0, -1), True)
    ((2, 4), (1, 3, 1))
    >>> reduced_shape((2, 3), None, False), reduced_shape((2, 3), 2, False)
    ((), None)
    """
    if dims is None:
        return (1,) * len(shape) if keepdims else ()
    wanted = [dims] if isinstance(dims, int) else list(dims)
    found = [normalise_dim(dim, len(shape)) for dim in wanted]
    if any(dim is None for dim in found) or len(set(found)) != len(found):
        return None
    if keepdims:
        return tuple(1 if index in found else size for index, size in enumerate(shape))
    return tuple(size for index, size in enumerate(shape) if index not in found)


def swapped_shape(shape: Shape, first: int, second: int) -> Shape | None:
    """The shape after swapping two dims (``transpose(a, b)``, ``swapaxes``).

    >>> swapped_shape((2, 3, 4), -2, -1), swapped_shape((2, 3), 0, 2)
    ((2, 4, 3), None)
    """
    a, b = normalise_dim(first, len(shape)), normalise_dim(second, len(shape))
    if a is None or b is None:
        return None
    dims = list(shape)
    dims[a], dims[b] = dims[b], dims[a]
    return tuple(dims)


def permuted_shape(shape: Shape, order: Sequence[int] | None) -> Shape | None:
    """The shape after permuting dims into ``order`` (reversed when None, as NumPy's ``.T``).

    >>> permuted_shape((2, 3, 4), (0, -1, 1)), permuted_shape((2, 3, 4), None)
    ((2, 4, 3), (4, 3, 2))
    """
    if order is None:
        return shape[::-1]
    found = [normalise_dim(dim, len(shape)) for dim in order]
    if len(found) != len(shape) or None in found or len(set(found)) != len(found):
        return None
    return tuple(shape[dim] for dim in found if dim is not None)


def matrix_transposed(shape: Shape) -> Shape | None:
    """``.mT``: the last two dims swapped (needs at least 2 dims).

    >>> matrix_transposed((5, 2, 3)), matrix_transposed((3,))
    ((5, 3, 2), None)
    """
    return swapped_shape(shape, -2, -1) if len(shape) >= 2 else None


def reshaped(shape: Shape, target: Sequence[int]) -> Shape | None:
    """``reshape``/``view`` to ``target`` with at most one ``-1``, or None when sizes disagree.

    >>> reshaped((3, 4), (2, -1)), reshaped((3, 4), (5, -1)), reshaped((3, 4), (12,))
    ((2, 6), None, (12,))
    """
    size = math.prod(shape)
    free = [index for index, part in enumerate(target) if part == -1]
    if len(free) > 1 or any(part < -1 for part in target):
        return None
    known = math.prod(part for part in target if part != -1)
    if not free:
        return tuple(target) if known == size else None
    if known == 0 or size % known:
        return None
    return tuple(size // known if part == -1 else part for part in target)


def flattened(shape: Shape, start: int = 0, end: int = -1) -> Shape | None:
    """``flatten(start, end)`` (PyTorch; NumPy's ``flatten()`` is all dims).

    >>> flattened((2, 3, 4), 1), flattened((2, 3, 4)), flattened((), 0)
    ((2, 12), (24,), (1,))
    """
    if not shape:
        return (1,)
    first, last = normalise_dim(start, len(shape)), normalise_dim(end, len(shape))
    if first is None or last is None or first > last:
        return None
    return (*shape[:first], math.prod(shape[first : last + 1]), *shape[last + 1 :])


def squeezed(shape: Shape, dims: int | Sequence[int] | None, lenient: bool = False) -> Shape | None:
    """``squeeze``: drop size-1 dims (all of them, or those named). A named dim whose size is
    not 1 is refused (NumPy: None), or kept when ``lenient`` (PyTorch).

    >>> squeezed((1, 3, 1), None), squeezed((1, 3, 1), -1), squeezed((2, 3), 0)
    ((3,), (1, 3), None)
    >>> squeezed((2, 3), 0, lenient=True)
    (2, 3)
    """
    if dims is None:
        return tuple(size for size in shape if size != 1)
    wanted = [dims] if isinstance(dims, int) else list(dims)
    if not shape:  # a 0-D array squeezes as if it had one dim
        return () if all(dim in (0, -1) for dim in wanted) else None
    found = {normalise_dim(dim, len(shape)) for dim in wanted}
    if None in found or (not lenient and any(shape[dim] != 1 for dim in found if dim is not None)):
        return None
    return tuple(size for index, size in enumerate(shape) if index not in found or size != 1)


def unsqueezed(shape: Shape, dim: int) -> Shape | None:
    """``unsqueeze``/``expand_dims``: a new size-1 dim at ``dim`` (negative counts from the end
    of the result).

    >>> unsqueezed((3, 4), 0), unsqueezed((3, 4), -1), unsqueezed((3, 4), 3)
    ((1, 3, 4), (3, 4, 1), None)
    """
    position = normalise_dim(dim, len(shape) + 1)
    if position is None:
        return None
    return (*shape[:position], 1, *shape[position:])


def concatenated(parts: Sequence[Shape], axis: int) -> Shape | None:
    """``concatenate``/``cat`` along ``axis``: equal sizes in every other dim, at least 1-D.

    >>> concatenated([(2, 3), (2, 5)], -1), concatenated([(2, 3), (4, 5)], 0), concatenated([()], 0)
    ((2, 8), None, None)
    """
    if not parts or not parts[0] or any(len(part) != len(parts[0]) for part in parts):
        return None
    dim = normalise_dim(axis, len(parts[0]))
    if dim is None:
        return None
    rest = {part[:dim] + part[dim + 1 :] for part in parts}
    if len(rest) != 1:
        return None
    first = parts[0]
    return (*first[:dim], sum(part[dim] for part in parts), *first[dim + 1 :])


def stacked(parts: Sequence[Shape], axis: int) -> Shape | None:
    """``stack`` along a new ``axis``: equal shapes.

    >>> stacked([(2, 3), (2, 3)], -1), stacked([(2, 3), (3, 2)], 0)
    ((2, 3, 2), None)
    """
    if not parts or len(set(parts)) != 1:
        return None
    dim = normalise_dim(axis, len(parts[0]) + 1)
    if dim is None:
        return None
    return (*parts[0][:dim], len(parts), *parts[0][dim:])


def einsum_shape(spec: str, parts: Sequence[Shape]) -> Shape | None:
    """The result of ``einsum(spec, *parts)`` for an explicit output (``"ij,jk->ik"``), or None
    when a letter has two sizes, a term does not fit its operand, or the spec has ``...``.

    >>> einsum_shape("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)])
    (2, 3, 5)
    >>> einsum_shape("ij,jk->ik", [(2, 3), (4, 5)]) is None
    True
    """
    inputs, arrow, output = spec.replace(" ", "").partition("->")
    terms = inputs.split(",")
    if not arrow or "." in spec or len(terms) != len(parts):
        return None
    sizes: dict[str, int] = {}
    for term, part in zip(terms, parts, strict=True):
        if len(term) != len(part):
            return None
        for letter, size in zip(term, part, strict=True):
            if sizes.setdefault(letter, size) != size:
                return None
    if any(letter not in sizes for letter in output):
        return None
    return tuple(sizes[letter] for letter in output)


def sliced_size(size: int, item: slice) -> int:
    """How many elements ``item`` takes from a dim of ``size``.

    >>> sliced_size(10, slice(2, None)), sliced_size(10, slice(None, None, -3))
    (8, 4)
    """
    return len(range(*item.indices(size)))


IndexItem = int | slice | None | EllipsisType | Shape
"""One item of an index: an integer, a slice, ``None`` (a new axis), ``...``, or the shape of an
integer index array (a one-element tuple ``(n,)`` for a list of n integers)."""


def indexed_shape(shape: Shape, items: Sequence[IndexItem]) -> Shape | None:
    """The shape of ``x[items]`` for basic indexing and integer index arrays, or None when the
    index does not fit (too many indices, an integer out of range, arrays that do not broadcast).

    Index arrays next to each other put their broadcast shape where they stand; separated by a
    slice they go first, as NumPy does.

    >>> indexed_shape((3, 4, 5), (0, slice(1, 3))), indexed_shape((3, 4), (None, Ellipsis, 1))
    ((2, 5), (1, 3))
    >>> indexed_shape((3, 4, 5), (slice(None), (2, 6), (6,))), indexed_shape((3,), (3,))
    ((3, 2, 6), None)
    """
    if sum(1 for item in items if item is Ellipsis) > 1:
        return None
    indexing = sum(1 for item in items if item is not None and item is not Ellipsis)
    if indexing > len(shape):
        return None
    has_arrays = any(isinstance(item, tuple) for item in items)
    advanced = [
        position
        for position, item in enumerate(items)
        if isinstance(item, tuple) or (has_arrays and isinstance(item, int))
    ]
    # Index arrays with anything between them (even an empty ``...``) put their dims first.
    adjacent = (
        advanced == list(range(advanced[0], advanced[0] + len(advanced))) if advanced else True
    )
    expanded: list[IndexItem] = []
    for item in items:
        if item is Ellipsis:
            expanded += [slice(None)] * (len(shape) - indexing)
        else:
            expanded.append(item)
    expanded += [slice(None)] * (len(shape) - sum(1 for item in expanded if item is not None))
    return _apply_index(shape, expanded, adjacent)


def _apply_index(shape: Shape, items: Sequence[IndexItem], adjacent: bool) -> Shape | None:
    """``items`` has one entry per dim (plus ``None`` for new axes); see :func:`indexed_shape`.

    With index arrays present, integers count as 0-d index arrays (NumPy's advanced indexing).
    """
    has_arrays = any(isinstance(item, tuple) for item in items)
    result: list[int] = []
    arrays: list[Shape] = []
    first = 0  # where the index arrays' dims go when they are adjacent
    dim = 0
    for item in items:
        if item is None:
            result.append(1)
            continue
        size = shape[dim]
        dim += 1
        if isinstance(item, int) and not -size <= item < size:
            return None
        if isinstance(item, tuple) or (has_arrays and isinstance(item, int)):
            if not arrays:
                first = len(result)
            arrays.append(item if isinstance(item, tuple) else ())
        elif isinstance(item, slice):
            result.append(sliced_size(size, item))
    if not has_arrays:
        return tuple(result)
    broadcast = broadcast_shape(arrays)
    if broadcast is None:
        return None
    where = first if adjacent else 0
    return tuple(result[:where]) + broadcast + tuple(result[where:])
