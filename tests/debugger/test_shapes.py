"""The shape arithmetic agrees with NumPy on random shapes and arguments (hypothesis)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("hypothesis")  # the dev extra should list it (see the report to the lead)

from hypothesis import given, settings
from hypothesis import strategies as st

from tensorsight.debugger.clarifying import shapes

SHAPES = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)
SETTINGS = settings(max_examples=150, deadline=None)


def numpy_shape(make: Any) -> tuple[int, ...] | None:
    """What NumPy computes, or None where NumPy refuses."""
    try:
        return tuple(make().shape)
    except (ValueError, IndexError, TypeError, np.exceptions.AxisError):
        return None


@SETTINGS
@given(st.lists(SHAPES, min_size=1, max_size=3))
def test_broadcast(shape_list: list[tuple[int, ...]]) -> None:
    arrays = [np.ones(shape) for shape in shape_list]
    assert shapes.broadcast_shape(shape_list) == numpy_shape(lambda: np.broadcast(*arrays))


@SETTINGS
@given(SHAPES, SHAPES)
def test_matmul(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    assert shapes.matmul_shape(a, b) == numpy_shape(lambda: np.ones(a) @ np.ones(b))


@SETTINGS
@given(SHAPES.filter(bool), st.data())
def test_reductions(shape: tuple[int, ...], data: st.DataObject) -> None:
    ndim = len(shape)
    dims = data.draw(
        st.none()
        | st.integers(-ndim - 1, ndim)
        | st.lists(st.integers(-ndim, ndim - 1), max_size=ndim).map(tuple)
    )
    keep = data.draw(st.booleans())
    expected = numpy_shape(lambda: np.ones(shape).sum(axis=dims, keepdims=keep))
    assert shapes.reduced_shape(shape, dims, keep) == expected


@SETTINGS
@given(SHAPES, st.data())
def test_transposes_and_permutations(shape: tuple[int, ...], data: st.DataObject) -> None:
    ndim = len(shape)
    first, second = data.draw(st.integers(-ndim - 1, ndim)), data.draw(st.integers(-ndim, ndim))
    swapped = numpy_shape(lambda: np.swapaxes(np.ones(shape), first, second))
    assert shapes.swapped_shape(shape, first, second) == swapped
    order = data.draw(
        st.permutations(range(ndim)).map(
            lambda dims: tuple(dim - ndim if dim % 2 else dim for dim in dims)
        )
    )
    permuted = numpy_shape(lambda: np.transpose(np.ones(shape), order))
    assert shapes.permuted_shape(shape, order) == permuted
    assert shapes.permuted_shape(shape, None) == np.ones(shape).T.shape


@SETTINGS
@given(SHAPES, st.lists(st.integers(-1, 6), min_size=0, max_size=4))
def test_reshape(shape: tuple[int, ...], target: list[int]) -> None:
    expected = numpy_shape(lambda: np.ones(shape).reshape(target))
    assert shapes.reshaped(shape, target) == expected


@SETTINGS
@given(SHAPES, st.data())
def test_squeeze_unsqueeze_flatten(shape: tuple[int, ...], data: st.DataObject) -> None:
    ndim = len(shape)
    axis = data.draw(st.none() | st.integers(-ndim - 1, ndim))
    assert shapes.squeezed(shape, axis) == numpy_shape(lambda: np.squeeze(np.ones(shape), axis))
    where = data.draw(st.integers(-ndim - 2, ndim + 1))
    expanded = numpy_shape(lambda: np.expand_dims(np.ones(shape), where))
    assert shapes.unsqueezed(shape, where) == expanded
    assert shapes.flattened(shape) == np.ones(shape).flatten().shape


INDEX_ITEMS = (
    st.integers(-5, 5)
    | st.none()
    | st.just(Ellipsis)
    | st.builds(
        slice,
        st.none() | st.integers(-4, 4),
        st.none() | st.integers(-4, 4),
        st.sampled_from([None, 1, 2, -1]),
    )
    | st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple)
)


@SETTINGS
@given(SHAPES, st.lists(INDEX_ITEMS, max_size=4))
def test_indexing(shape: tuple[int, ...], items: list[Any]) -> None:
    # A tuple item stands for an integer index array of that shape (all zeros: in range).
    index = tuple(np.zeros(item, int) if isinstance(item, tuple) else item for item in items)
    expected = numpy_shape(lambda: np.ones(shape)[index])
    assert shapes.indexed_shape(shape, items) == expected


@pytest.mark.parametrize("ndim", [0, 1])
def test_zero_and_one_dim_edges(ndim: int) -> None:
    shape = (3,) * ndim
    assert shapes.normalise_dim(0, ndim) == (0 if ndim else None)
    assert shapes.flattened(shape) == np.ones(shape).flatten().shape


@SETTINGS
@given(st.lists(SHAPES, min_size=1, max_size=3), st.integers(-4, 4))
def test_concatenate_and_stack(parts: list[tuple[int, ...]], axis: int) -> None:
    arrays = [np.ones(part) for part in parts]
    assert shapes.concatenated(parts, axis) == numpy_shape(
        lambda: np.concatenate(arrays, axis=axis)
    )
    assert shapes.stacked(parts, axis) == numpy_shape(lambda: np.stack(arrays, axis=axis))


def test_torch_squeeze_keeps_a_named_dim_that_is_not_one() -> None:
    torch = pytest.importorskip("torch")
    for shape, dim in (((2, 3), 0), ((1, 3, 1), -1), ((2, 1), 1)):
        expected = tuple(torch.ones(shape).squeeze(dim).shape)
        assert shapes.squeezed(shape, dim, lenient=True) == expected


@SETTINGS
@given(
    st.lists(st.sampled_from("ijk"), min_size=1, max_size=3),
    st.lists(st.sampled_from("ijk"), min_size=1, max_size=3),
    st.lists(st.integers(1, 3), min_size=3, max_size=3),
)
def test_einsum(left: list[str], right: list[str], sizes: list[int]) -> None:
    size = dict(zip("ijk", sizes, strict=True))
    a, b = tuple(size[letter] for letter in left), tuple(size[letter] for letter in right)
    output = "".join(sorted(set(left) ^ set(right)))
    spec = f"{''.join(left)},{''.join(right)}->{output}"
    expected = numpy_shape(lambda: np.einsum(spec, np.ones(a), np.ones(b)))
    assert shapes.einsum_shape(spec, [a, b]) == expected
