"""Frozen records: the classes of kforensic's typed model, made without compiling code per class.

``@datarecord`` gives a class what ``@dataclass(frozen=True)`` gives it: an ``__init__`` that takes the
fields in order, by position or by name, with their defaults and default factories; ``__repr__``,
``__eq__`` and ``__hash__`` over the fields (``field(repr=False)`` and ``field(compare=False)``
honoured); the four comparisons with ``order=True``; ``dataclasses.FrozenInstanceError`` on
assignment and deletion. The class stays a dataclass to the standard library (``dataclasses``
itself collects the fields), so ``fields``, ``replace``, ``asdict`` and ``is_dataclass`` work on
it, and type checkers read the decorator as a frozen dataclass (PEP 681's ``dataclass_transform``).
``tests/test_records.py`` holds the two side by side.

Why not ``@dataclass(frozen=True)`` itself: on CPython 3.11 it writes each class's methods as
source text and compiles them, six ``exec`` calls for a frozen class, about 0.7 ms a class
(CPython's ``dataclasses._create_fn``). kforensic imports about 130 records before a scan can
start: 90-120 ms of a demo scan that must stay under 0.5 s (issue 16; bench/README.md, "Start-up").
Here the methods are closures over the class's field names, built in microseconds. What that costs:
creating an instance takes about a microsecond more, and no path creates more than a few thousand;
``inspect.signature`` of the class shows ``(*args, **kwargs)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

_T = TypeVar("_T")
_MISSING = dataclasses.MISSING


@overload
def datarecord(cls: type[_T], /) -> type[_T]: ...


@overload
def datarecord(*, frozen: bool = True, eq: bool = True, order: bool = False) -> Callable[[type[_T]], type[_T]]: ...


# ``frozen_default`` is PEP 681's later keyword (typing 3.12); 3.11's ``dataclass_transform``
# accepts it through its ``**kwargs``, and mypy reads it.
@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def datarecord(cls: type[_T] | None = None, /, *, frozen: bool = True, eq: bool = True, order: bool = False) -> Any:
    """Make ``cls`` a record: ``@datarecord``, ``@datarecord(order=True)``, ``@datarecord(eq=False)``.

    ``@datarecord(frozen=False)`` is ``@dataclass``'s mutable class: assignable, and unhashable when it
    compares by value (``__hash__`` is None, as dataclasses makes it).
    """
    if order and not eq:
        raise ValueError("datarecord: order=True needs eq=True")  # as dataclasses says

    def make(cls: type[_T]) -> type[_T]:
        own = cls.__dict__
        if not own.get("__doc__"):
            # dataclasses would work one out with inspect.signature, a tenth of a millisecond.
            cls.__doc__ = f"{cls.__name__}({', '.join(own.get('__annotations__', ()))})"
        # The bookkeeping only (Field objects, defaults left on the class, __match_args__): with
        # init, repr and eq off and the class not frozen, dataclasses compiles nothing.
        dataclasses.dataclass(cls, init=False, repr=False, eq=False)
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # a dataclass since the line above
        # As dataclasses does: a method the class writes itself is kept (__init__, __repr__,
        # __eq__, an explicit __hash__); a frozen class cannot write __setattr__ or __delattr__,
        # nor an ordered one its comparisons.
        _keep_or_set(cls, "__init__", _init(cls.__qualname__, fields, "__post_init__" in own))
        _keep_or_set(cls, "__repr__", _repr(tuple(field.name for field in fields if field.repr)))
        if frozen:
            _set_new(cls, "__setattr__", _refuse_setattr)
            _set_new(cls, "__delattr__", _refuse_delattr)
        if eq:
            compared = tuple(field.name for field in fields if field.compare)
            _keep_or_set(cls, "__eq__", _eq(compared))
            # Defining __eq__ sets __hash__ to None in the class body; that is not an explicit hash.
            if own.get("__hash__") is None:
                if frozen:
                    hashed = tuple(field.name for field in fields if (field.compare if field.hash is None else field.hash))
                    _set(cls, "__hash__", _hash(hashed))
                else:
                    cls.__hash__ = None  # type: ignore[assignment]  # how Python marks a class unhashable
            if order:
                for name, compare in _comparisons(compared).items():
                    _set_new(cls, name, compare)
        return cls

    return make if cls is None else make(cls)


def _set(cls: type, name: str, function: Callable[..., Any]) -> None:
    function.__qualname__ = f"{cls.__qualname__}.{name}"
    setattr(cls, name, function)


def _keep_or_set(cls: type, name: str, function: Callable[..., Any]) -> None:
    if name not in cls.__dict__:
        _set(cls, name, function)


def _set_new(cls: type, name: str, function: Callable[..., Any]) -> None:
    if name in cls.__dict__:
        raise TypeError(f"cannot overwrite attribute {name} in class {cls.__name__}")  # dataclasses' words
    _set(cls, name, function)


def _init(qualname: str, fields: tuple[dataclasses.Field[Any], ...], post_init: bool) -> Callable[..., None]:
    names = tuple(field.name for field in fields)
    count = len(names)
    # The optional tail: (name, default, factory or None), in field order.
    optional: list[tuple[str, Any, Callable[[], Any] | None]] = []
    for field in fields:
        factory = None if field.default_factory is _MISSING else field.default_factory
        if factory is None and field.default is _MISSING:
            if optional:
                # dataclasses' own rule, and its words.
                raise TypeError(f"non-default argument {field.name!r} follows default argument")
            continue
        optional.append((field.name, field.default, factory))
    required = names[: count - len(optional)]
    known = frozenset(names)

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        values = dict(zip(names, args, strict=False))
        if kwargs:
            if not known.issuperset(kwargs) or not values.keys().isdisjoint(kwargs):
                raise _refusal(qualname, names, required, args, kwargs)
            values.update(kwargs)
        if len(args) > count:
            raise _refusal(qualname, names, required, args, kwargs)
        if len(values) < count:
            if not values.keys() >= set(required):
                raise _refusal(qualname, names, required, args, kwargs)
            for name, default, factory in optional:
                if name not in values:
                    values[name] = default if factory is None else factory()
        return values

    # For a call by position that stops inside the optional tail (``Walked(parts, links)``): what
    # the rest gets, by where the call stops.
    rest = {
        given: ({name: default for name, default, factory in optional[given - len(required):] if factory is None},
                tuple((name, factory) for name, _, factory in optional[given - len(required):] if factory is not None))
        for given in range(len(required), count)
    }

    # A plain instance dictionary: writing it directly is what the frozen __setattr__ leaves open
    # (dataclasses' own __init__ goes round it with object.__setattr__).
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        own = self.__dict__
        if kwargs:
            own.update(bind(args, kwargs))
        elif len(args) == count:
            own.update(zip(names, args, strict=True))
        elif len(args) in rest:
            own.update(zip(names, args, strict=False))
            defaults, factories = rest[len(args)]
            own.update(defaults)
            for name, factory in factories:
                own[name] = factory()
        else:
            raise _refusal(qualname, names, required, args, kwargs)
        if post_init:
            self.__post_init__()

    return __init__


def _refusal(qualname: str, names: tuple[str, ...], required: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> TypeError:
    """The TypeError Python raises for a call that does not bind, checked in Python's order."""
    given = set(names[: len(args)])
    for key in kwargs:
        if key not in names:
            return TypeError(f"{qualname}.__init__() got an unexpected keyword argument {key!r}")
        if key in given:
            return TypeError(f"{qualname}.__init__() got multiple values for argument {key!r}")
        given.add(key)
    if len(args) > len(names):
        if len(required) < len(names):
            takes = f"from {len(required) + 1} to {len(names) + 1} positional arguments"
        else:
            takes = f"{len(names) + 1} positional argument{'s' if names else ''}"
        return TypeError(f"{qualname}.__init__() takes {takes} but {len(args) + 1} were given")
    missing = [name for name in required if name not in given]
    listed = " and ".join(", ".join(repr(name) for name in missing).rsplit(", ", 1))
    plural = "s" if len(missing) > 1 else ""
    return TypeError(f"{qualname}.__init__() missing {len(missing)} required positional argument{plural}: {listed}")


def _repr(shown: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{self.__class__.__qualname__}({inner})"

    return __repr__


def _refuse_setattr(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _refuse_delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        (name,) = names
        return lambda obj: (getattr(obj, name),)
    from operator import attrgetter

    return attrgetter(*names)


def _eq(compared: tuple[str, ...]) -> Callable[[Any, Any], Any]:
    values = _values(compared)

    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _hash(hashed: tuple[str, ...]) -> Callable[[Any], int]:
    values = _values(hashed)

    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __hash__


def _comparisons(compared: tuple[str, ...]) -> dict[str, Callable[[Any, Any], Any]]:
    import operator

    values = _values(compared)

    def comparison(name: str, test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
        def compare(self: Any, other: Any) -> Any:
            if other.__class__ is self.__class__:
                return test(values(self), values(other))
            return NotImplemented

        compare.__name__ = name
        return compare

    return {name: comparison(name, test) for name, test in (("__lt__", operator.lt), ("__le__", operator.le), ("__gt__", operator.gt), ("__ge__", operator.ge))}
