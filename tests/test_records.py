"""``analyzer.records.datarecord`` against ``dataclasses.dataclass``, side by side.

Each shape below is made twice from the same class body, once by each decorator, and every
operation a caller can do with a record (build it by position and by name, with missing, extra and
repeated arguments; repr; ==, hash, the orderings; assignment and deletion; ``dataclasses.fields``,
``replace``, ``asdict``, ``astuple``; copies and pickles) must give the same value or raise the same
exception with the same words.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import operator
import pickle
from unittest import mock
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analyzer.records import datarecord

PACKAGE = Path(__file__).resolve().parent.parent / "analyzer"


class _Base:
    """Not a dataclass: a record may sit on a plain class and inherit its methods."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "checked", True)  # frozen or not, as a frozen record's own must


def _shapes(decorate: Callable[..., Any], frozen: bool = True) -> dict[str, type]:
    """The same class bodies under one decorator (``decorate(**options)`` returns the decorator)."""
    field = dataclasses.field

    @decorate(frozen=frozen)
    class Plain:
        name: str
        size: int

    @decorate(frozen=frozen)
    class ThreeRequired:
        first: int
        second: int
        third: int
        fourth: int = 4

    @decorate(frozen=frozen)
    class OneField:
        value: int

    @decorate(frozen=frozen)
    class Defaults:
        name: str
        size: int = 0
        tags: tuple[str, ...] = ()
        items: list[int] = field(default_factory=list)
        secret: bytes = field(default=b"", repr=False)
        note: str | None = field(default=None, compare=False)
        seen: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    @decorate(frozen=frozen)
    class Empty:
        pass

    @decorate(frozen=frozen)
    class Hashing:
        key: str
        cache: int = field(default=0, hash=False)
        weight: int = field(default=1, compare=False, hash=True)

    @decorate(frozen=frozen, order=True)
    class Ordered:
        major: int
        minor: int = 0
        label: str = field(default="", compare=False)

    @decorate(frozen=frozen, eq=False)
    class Identity:
        value: int

    @decorate(frozen=frozen)
    class OwnMethods:
        value: int

        def __repr__(self) -> str:
            return "<redacted>"

        def __eq__(self, other: object) -> bool:
            return isinstance(other, OwnMethods)

    @decorate(frozen=frozen)
    class OwnHashAndInit:
        value: int = 0

        def __init__(self, value: int = 0) -> None:
            object.__setattr__(self, "value", value * 2)

        def __hash__(self) -> int:
            return 7

    @decorate(frozen=frozen)
    class Unhashable:
        value: int
        __hash__ = None  # type: ignore[assignment]  # explicit: dataclasses keeps it

    @decorate(frozen=frozen)
    class Inherited(_Base):
        value: int
        self: str = "a field may be called self"

    return {shape.__name__: shape for shape in (Plain, ThreeRequired, OneField, Defaults, Empty, Hashing, Ordered, Identity, OwnMethods,
                                                OwnHashAndInit, Unhashable, Inherited)}


SHAPES = list(_shapes(dataclasses.dataclass))


def _dataclass(**options: Any) -> Callable[[type], type]:
    return dataclasses.dataclass(**options)


def _datarecord(**options: Any) -> Callable[[type], type]:
    return datarecord(**options)


ARGUMENTS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}),
    (("a",), {}),
    (("a", 1), {}),
    (("a", 1, ("t",)), {}),
    (("a", 1, ("t",), [2], b"k", "n", {"x": 1}), {}),
    (("a", 1, ("t",), [2], b"k", "n", {"x": 1}, "extra"), {}),
    ((), {"name": "a", "size": 2}),
    (("a",), {"size": 3, "note": "n"}),
    (("a",), {"name": "b"}),
    (("a",), {"colour": "red"}),
    ((), {"size": 1}),
    ((1,), {}),
    ((), {"key": "k", "cache": 5, "weight": 7}),
    ((2, 1), {"label": "x"}),
    ((), {"value": 3}),
    ((1, 2, 3), {}),
    ((1,), {"third": 3}),
    ((), {"fourth": 1}),
    ((5,), {"self": "named"}),
]


def _outcome(action: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """``action(*args, **kwargs)``'s value, or the type and words of what it raised."""
    try:
        value = action(*args, **kwargs)
    except Exception as error:  # the comparison is of what is raised
        return ("raised", (type(error).__name__, str(error).replace("_datarecord", "").replace("_dataclass", "")))
    return ("value", value)


def _same_hash(one: Any, other: Any) -> bool:
    return hash(one) == hash(other)


def _assigned(obj: Any, name: str) -> Any:
    setattr(obj, name, 9)
    return vars(obj)


def _deleted(obj: Any, name: str) -> Any:
    delattr(obj, name)
    return vars(obj)


def _describe(obj: Any) -> Any:
    """What a caller sees of an instance, as plain data (the two classes differ, so compare this)."""
    return {
        "repr": repr(obj),
        "vars": vars(obj),
        "fields": [(f.name, f.type, f.repr, f.compare, f.hash) for f in dataclasses.fields(obj)],
        "asdict": _outcome(dataclasses.asdict, obj),
        "astuple": _outcome(dataclasses.astuple, obj),
        "hash": _outcome(_same_hash, obj, copy.copy(obj)),
    }


@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "mutable"])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_record_behaves_as_the_dataclass_it_stands_for(shape: str, frozen: bool) -> None:
    old, new = _shapes(_dataclass, frozen)[shape], _shapes(_datarecord, frozen)[shape]
    assert dataclasses.is_dataclass(new)
    assert new.__match_args__ == old.__match_args__  # type: ignore[attr-defined]  # set by dataclasses
    assert (new.__hash__ is None) == (old.__hash__ is None)
    compared = 0
    for args, kwargs in ARGUMENTS:
        made_old, made_new = _outcome(old, *args, **kwargs), _outcome(new, *args, **kwargs)
        assert made_new[0] == made_old[0], (args, kwargs, made_old, made_new)
        if made_old[0] == "raised":
            assert made_new == made_old
            continue
        a_old, a_new = made_old[1], made_new[1]
        b_old, b_new = old(*args, **kwargs), new(*args, **kwargs)
        assert _describe(a_new) == _describe(a_old)
        if "__hash__" not in vars(old):  # eq=False: both keep object's identity hash
            assert "__hash__" not in vars(new)
        else:
            assert _outcome(hash, a_new) == _outcome(hash, a_old)  # the same tuple hashed, or the same refusal
        for compare in (operator.eq, operator.ne, operator.lt, operator.ge):  # a foreign object: NotImplemented, then its answer
            assert _outcome(compare, a_new, mock.ANY) == _outcome(compare, a_old, mock.ANY)
        assert (a_new == b_new) == (a_old == b_old) and (a_new != b_new) == (a_old != b_old)
        assert (a_new == a_old) is False  # a record and its dataclass twin are different classes
        for compare in (operator.lt, operator.le, operator.gt, operator.ge):
            assert _outcome(compare, a_new, b_new) == _outcome(compare, a_old, b_old)
        field_names = [f.name for f in dataclasses.fields(a_old)]
        for name in field_names:  # one field changed: which fields ==, hash and the orderings read
            for other in (-1, "zz", ("other",)):
                v_old, v_new = dataclasses.replace(b_old, **{name: other}), dataclasses.replace(b_new, **{name: other})
                assert (a_new == v_new, a_new != v_new) == (a_old == v_old, a_old != v_old), name
                assert _outcome(_same_hash, a_new, v_new) == _outcome(_same_hash, a_old, v_old), name
                for compare in (operator.lt, operator.ge):
                    assert _outcome(compare, a_new, v_new) == _outcome(compare, a_old, v_old), name
        for name in field_names[:1] + ["unknown"]:
            assert _outcome(_assigned, a_new, name) == _outcome(_assigned, a_old, name)
            assert _outcome(_deleted, b_new, name) == _outcome(_deleted, b_old, name)
        c_old, c_new = old(*args, **kwargs), new(*args, **kwargs)
        if field_names:
            changed = {field_names[-1]: getattr(c_old, field_names[-1])}
            assert _describe(dataclasses.replace(c_new, **changed)) == _describe(dataclasses.replace(c_old, **changed))
        assert _describe(copy.deepcopy(c_new)) == _describe(copy.deepcopy(c_old))
        compared += 1
    assert compared >= 1


@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "mutable"])
def test_default_factories_make_a_new_value_for_each_instance(frozen: bool) -> None:
    shape = _shapes(_datarecord, frozen)["Defaults"]
    first, second = shape("a"), shape("b")
    assert first.items == [] and first.items is not second.items and first.seen is not second.seen


def test_records_pickle_as_module_level_dataclasses_do() -> None:
    from analyzer.evidence.mvcc import Revision

    revision = Revision(12, 3)
    assert pickle.loads(pickle.dumps(revision)) == revision


def test_what_dataclasses_refuses_a_record_refuses() -> None:
    field = dataclasses.field
    for decorate in (_dataclass, _datarecord):
        with pytest.raises(TypeError, match="non-default argument 'size' follows default argument"):

            @decorate(frozen=True)
            class Misordered:
                name: str = ""
                size: int

        with pytest.raises(ValueError, match="mutable default"):

            @decorate(frozen=True)
            class SharedDefault:
                items: list[int] = []  # noqa: RUF012  # the mistake under test

        with pytest.raises(TypeError, match="^Cannot overwrite attribute __setattr__ in class OwnSetattr$"):

            @decorate(frozen=True)
            class OwnSetattr:
                value: int = field(default=0)

                def __setattr__(self, name: str, value: Any) -> None:
                    pass


@pytest.mark.parametrize("decorate", [_dataclass, _datarecord], ids=["dataclass", "datarecord"])
def test_an_undecorated_subclass_of_a_frozen_record_keeps_its_fields_frozen_only(decorate: Callable[..., Any]) -> None:
    base = _shapes(decorate)["Plain"]

    class Sub(base):  # type: ignore[valid-type, misc]  # a class made at run time
        pass

    sub = Sub("a", 1)
    sub.extra = 1  # not a field: a subclass may set it, as dataclasses allows
    assert sub.extra == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        sub.name = "b"
    with pytest.raises(dataclasses.FrozenInstanceError):
        base("a", 1).extra = 1
    assert (sub == base("a", 1)) is False  # another class: NotImplemented both ways, so not equal


def test_what_a_record_does_not_do_is_refused_when_the_class_is_made() -> None:
    field = dataclasses.field
    with pytest.raises(TypeError, match="do not inherit"):

        @datarecord
        class FromADataclass(_shapes(_dataclass)["Plain"]):  # type: ignore[misc]  # a class made at run time
            extra: int = 0

    with pytest.raises(TypeError, match="__slots__"):

        @datarecord
        class Slotted:
            __slots__ = ("value",)
            value: int

    with pytest.raises(TypeError, match="init=False or kw_only"):

        @datarecord
        class NotInInit:
            value: int = field(default=0, init=False)

    with pytest.raises(TypeError, match="init=False or kw_only"):

        @datarecord
        class KeywordOnly:
            value: int = field(default=0, kw_only=True)

    with pytest.raises(TypeError, match="InitVar or KW_ONLY"):

        @datarecord
        class WithInitVar:
            value: dataclasses.InitVar[int]

    with pytest.raises(TypeError, match="descriptor"):

        @datarecord
        class DescriptorDefault:
            value: int = property(lambda self: 1)  # type: ignore[assignment]  # the mistake under test


def test_docstrings_repr_of_a_cycle_and_method_names() -> None:
    @datarecord
    class Documented:
        """Kept."""

        value: int

    @datarecord(frozen=False)
    class Undocumented:
        name: str
        size: int = 0
        items: list[int] = dataclasses.field(default_factory=list)
        loop: object = None

    assert Documented.__doc__ == "Kept."
    assert Undocumented.__doc__ == "Undocumented(name: str, size: int = 0, items: list[int] = <factory>, loop: object = None)"
    holder = Undocumented("a")
    holder.loop = holder
    assert repr(holder) == "test_docstrings_repr_of_a_cycle_and_method_names.<locals>.Undocumented(name='a', size=0, items=[], loop=...)"
    for method in ("__init__", "__repr__", "__eq__"):
        assert getattr(Documented, method).__qualname__.endswith(f"Documented.{method}")
        assert getattr(Undocumented, method).__qualname__.endswith(f"Undocumented.{method}")
    assert Documented.__setattr__.__qualname__.endswith("Documented.__setattr__")


def test_order_needs_eq_and_keeps_no_comparison_of_its_own() -> None:
    for decorate in (_dataclass, _datarecord):
        with pytest.raises(ValueError, match="^eq must be true if order is true$"):
            decorate(order=True, eq=False)(type("Unordered", (), {"__annotations__": {"value": "int"}}))
        with pytest.raises(TypeError, match="^Cannot overwrite attribute __lt__ in class Own. Consider using functools.total_ordering$"):

            @decorate(frozen=True, order=True)
            class Own:
                value: int

                def __lt__(self, other: object) -> bool:
                    return True


def test_post_init_runs_after_the_fields_are_set() -> None:
    @datarecord(frozen=False)
    class Counted:
        values: tuple[int, ...]
        total: int = 0

        def __post_init__(self) -> None:
            self.total = sum(self.values)

    assert Counted((1, 2, 3)).total == 6


def test_no_module_uses_dataclasses_own_decorator() -> None:
    # The reason records exist is start-up time (analyzer/records.py): one @dataclass brings back
    # about 0.7 ms a class of compiling on every run.
    used = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "dataclasses" and any(alias.name == "dataclass" for alias in node.names):
                used.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
            elif isinstance(node, ast.Attribute) and node.attr == "dataclass" and ast.unparse(node.value) == "dataclasses" and path.name != "records.py":
                used.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert used == []
