"""Records: the classes of kforensic's typed model, made without compiling code per class.

``@datarecord`` gives a class what ``@dataclass(frozen=True)`` gives it: an ``__init__`` that takes the
fields in order, by position or by name, with their defaults and default factories (and calls
``__post_init__``); ``__repr__``, ``__eq__`` and ``__hash__`` over the fields (``field(repr=False)``,
``compare=False`` and ``hash=`` honoured); the four comparisons with ``order=True``;
``dataclasses.FrozenInstanceError`` on assigning or deleting a field. ``@datarecord(frozen=False)``
is ``@dataclass``'s mutable class. The class stays a dataclass to the standard library
(``dataclasses`` itself collects the fields), so ``fields``, ``replace``, ``asdict`` and
``is_dataclass`` work on it, and type checkers read the decorator as a dataclass (PEP 681's
``dataclass_transform``). ``tests/test_records.py`` holds the two side by side.

Why not ``@dataclass`` itself: on CPython 3.11 it writes each class's methods as source text and
compiles them, six ``exec`` calls for a frozen class, about 0.7 ms a class (``dataclasses._create_fn``;
3.13 compiles them in one ``exec``, which costs about as much). kforensic imports some 130 records
before a scan can start: 90-120 ms of a demo scan that must stay under 0.5 s (issue 16;
bench/README.md, "Start-up"). Here the methods are closures over the class's field names, built in
microseconds; an instance costs about the same to make by position, about a microsecond more by
name.

What a record does not do, refused when the class is made rather than done differently:
inheritance between dataclasses, ``__slots__``, ``field(init=False)``, ``kw_only`` and ``InitVar``,
a descriptor as a field's default. ``inspect.signature`` of a record shows ``(*args, **kwargs)``.
"""

from __future__ import annotations

import dataclasses
import operator
import reprlib
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
    """Make ``cls`` a record: ``@datarecord``, ``@datarecord(order=True)``, ``@datarecord(eq=False)``,
    ``@datarecord(frozen=False)``."""

    def make(cls: type[_T]) -> type[_T]:
        if order and not eq:
            raise ValueError("eq must be true if order is true")  # dataclasses' words, when it is applied
        _refuse_what_records_do_not_do(cls)
        own = cls.__dict__
        undocumented = not own.get("__doc__")
        if undocumented:  # or dataclasses works one out with inspect.signature, a tenth of a millisecond
            cls.__doc__ = cls.__name__
        # The bookkeeping only (Field objects, defaults left on the class, __match_args__): with
        # init, repr and eq off and the class not frozen, dataclasses compiles nothing.
        dataclasses.dataclass(cls, init=False, repr=False, eq=False)
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # a dataclass since the line above
        if undocumented:
            cls.__doc__ = f"{cls.__name__}({', '.join(_described(field) for field in fields)})"
        for field in fields:
            if not field.init or field.kw_only is True:
                raise TypeError(f"record {cls.__name__}: field {field.name!r} is init=False or kw_only; records take neither")
        # As dataclasses does: a method the class writes itself is kept (__init__, __repr__,
        # __eq__, an explicit __hash__); a frozen class cannot write __setattr__ or __delattr__,
        # nor an ordered one its comparisons.
        _keep_or_set(cls, "__init__", _init(cls.__qualname__, fields, hasattr(cls, "__post_init__")))
        _keep_or_set(cls, "__repr__", _repr(tuple(field.name for field in fields if field.repr)))
        if frozen:
            names = frozenset(field.name for field in fields)
            _set_new(cls, "__setattr__", _frozen_setattr(cls, names))
            _set_new(cls, "__delattr__", _frozen_delattr(cls, names))
        if eq:
            # A class body that defines __eq__ gets __hash__ = None from Python: not a hash of its own.
            explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
            compared = tuple(field.name for field in fields if field.compare)
            _keep_or_set(cls, "__eq__", _compare(compared, operator.eq))
            if not explicit_hash:
                if frozen:
                    hashed = tuple(field.name for field in fields if (field.compare if field.hash is None else field.hash))
                    _set(cls, "__hash__", _hash(hashed))
                else:
                    cls.__hash__ = None  # type: ignore[assignment]  # how Python marks a class unhashable
            if order:
                for name, test in _ORDERINGS:
                    if name in own:
                        raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}. Consider using functools.total_ordering")
                    _set(cls, name, _compare(compared, test))
        return cls

    return make if cls is None else make(cls)


def _refuse_what_records_do_not_do(cls: type) -> None:
    """What dataclasses allows and a record would do differently, refused by name."""
    if any(dataclasses.is_dataclass(base) for base in cls.__mro__[1:]):
        raise TypeError(f"record {cls.__name__}: records do not inherit from dataclasses")
    if "__slots__" in cls.__dict__:
        raise TypeError(f"record {cls.__name__}: records keep their fields in the instance dictionary, not __slots__")
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if isinstance(annotation, str) and ("InitVar" in annotation or "KW_ONLY" in annotation):
            raise TypeError(f"record {cls.__name__}: field {name!r} is an InitVar or KW_ONLY; records take neither")
        default = cls.__dict__.get(name)
        if hasattr(type(default), "__set__"):  # a data descriptor: __init__ writes the instance dictionary
            raise TypeError(f"record {cls.__name__}: field {name!r} has a descriptor for a default")


def _described(field: dataclasses.Field[Any]) -> str:
    """A field as dataclasses' made-up docstring shows it: ``name: type = default``."""
    text = f"{field.name}: {field.type}" if isinstance(field.type, str) else f"{field.name}: {getattr(field.type, '__name__', field.type)}"
    if field.default is not _MISSING:
        return f"{text} = {field.default!r}"
    return f"{text} = <factory>" if field.default_factory is not _MISSING else text


def _set(cls: type, name: str, function: Callable[..., Any]) -> None:
    function.__qualname__ = f"{cls.__qualname__}.{name}"
    setattr(cls, name, function)


def _keep_or_set(cls: type, name: str, function: Callable[..., Any]) -> None:
    if name not in cls.__dict__:
        _set(cls, name, function)


def _set_new(cls: type, name: str, function: Callable[..., Any]) -> None:
    if name in cls.__dict__:
        raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")  # dataclasses' words
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
        """The values of a call with keywords (more positional arguments than fields would leave
        every keyword unknown or repeated, so that case is refused here too)."""
        values = dict(zip(names, args, strict=False))
        if not known.issuperset(kwargs) or not values.keys().isdisjoint(kwargs):
            raise _refusal(qualname, names, required, args, kwargs)
        values.update(kwargs)
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

    # ``self`` is positional-only, so that a field may be called ``self``. The values go into the
    # instance dictionary directly, as the frozen __setattr__ leaves open (dataclasses' own __init__
    # goes round it with object.__setattr__; no descriptor or __slots__ can be in the way: refused).
    def __init__(self: Any, /, *args: Any, **kwargs: Any) -> None:
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
    if "self" not in names:
        given.add("self")  # dataclasses' __init__ takes self by name unless a field is called self
    for key in kwargs:
        if key in given:
            return TypeError(f"{qualname}.__init__() got multiple values for argument {key!r}")
        if key not in names:
            return TypeError(f"{qualname}.__init__() got an unexpected keyword argument {key!r}")
        given.add(key)
    if len(args) > len(names):
        if len(required) < len(names):
            takes = f"from {len(required) + 1} to {len(names) + 1} positional arguments"
        else:
            takes = f"{len(names) + 1} positional argument{'s' if names else ''}"
        return TypeError(f"{qualname}.__init__() takes {takes} but {len(args) + 1} were given")
    missing = [repr(name) for name in required if name not in given]
    if len(missing) == 1:
        return TypeError(f"{qualname}.__init__() missing 1 required positional argument: {missing[0]}")
    listed = f"{missing[0]} and {missing[1]}" if len(missing) == 2 else f"{', '.join(missing[:-1])}, and {missing[-1]}"
    return TypeError(f"{qualname}.__init__() missing {len(missing)} required positional arguments: {listed}")


def _repr(shown: tuple[str, ...]) -> Callable[[Any], str]:
    @reprlib.recursive_repr()  # as dataclasses: a record that holds itself shows "..." there
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{self.__class__.__qualname__}({inner})"

    return __repr__


def _frozen_setattr(cls: type[Any], names: frozenset[str]) -> Callable[[Any, str, Any], None]:
    # As dataclasses: the record's own instances refuse every name; a subclass's, only the fields.
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is not cls and name not in names:
            super(cls, self).__setattr__(name, value)
            return
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    return __setattr__


def _frozen_delattr(cls: type[Any], names: frozenset[str]) -> Callable[[Any, str], None]:
    def __delattr__(self: Any, name: str) -> None:
        if type(self) is not cls and name not in names:
            super(cls, self).__delattr__(name)
            return
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    return __delattr__


def _values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of an instance's ``names`` (what dataclasses compares and hashes)."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        (name,) = names
        return lambda obj: (getattr(obj, name),)
    return operator.attrgetter(*names)


def _compare(compared: tuple[str, ...], test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    """``__eq__`` or an ordering: ``test`` over the compared fields' tuples of two instances of
    the same class, NotImplemented for any other (as dataclasses)."""
    values = _values(compared)

    def compare(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return test(values(self), values(other))
        return NotImplemented

    return compare


def _hash(hashed: tuple[str, ...]) -> Callable[[Any], int]:
    values = _values(hashed)

    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __hash__


_ORDERINGS = (("__lt__", operator.lt), ("__le__", operator.le), ("__gt__", operator.gt), ("__ge__", operator.ge))
