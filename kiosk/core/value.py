"""Immutable value classes declared like ``@dataclass(frozen=True)``, without compiling code at import.

Why: ``@dataclass`` writes the source of ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__`` and ``__delattr__`` for each class and compiles it when the module is imported —
about a millisecond of CPU per class. The events and actions the flow exchanges are 18 such
classes, all imported before READY: under a quarter of a core that was ~80 ms of the start
(docs/benchmarks.md "Time to READY"). :class:`Value` gives them the same behaviour from methods
written once:

- fields are the class's annotations in order (a subclass's after its base's); a class attribute
  is the field's default; construction by position or keyword, TypeError as a dataclass raises;
- ``repr`` ``Name(a=1, b='x')``; equality and hash by the fields, only between instances of the
  same class; assignment and deletion raise :class:`dataclasses.FrozenInstanceError`;
- ``__match_args__`` is the fields.

Not offered: ``dataclasses.fields``/``replace``/``asdict``, mutable defaults (``field(...)``),
``__post_init__`` — a class that needs them stays a dataclass. Type checkers see a frozen dataclass
(PEP 681 ``dataclass_transform``). ``inspect`` is imported by ``dataclasses`` anyway (kiosk.config).
"""

from __future__ import annotations

import inspect
import itertools
from dataclasses import FrozenInstanceError
from typing import Any, ClassVar, dataclass_transform


@dataclass_transform(frozen_default=True)
class Value:
    """Base of an immutable value class; see the module docstring."""

    _value_fields: ClassVar[tuple[str, ...]] = ()
    _value_defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        own = [name for name, note in inspect.get_annotations(cls).items()
               if not str(note).startswith(("ClassVar", "typing.ClassVar"))]
        fields = [f for f in cls._value_fields if f not in own] + own
        defaults = {**cls._value_defaults, **{f: cls.__dict__[f] for f in own if f in cls.__dict__}}
        for before, after in itertools.pairwise(fields):
            if before in defaults and after not in defaults:
                raise TypeError(f"non-default argument {after!r} follows default argument")
        cls._value_fields, cls._value_defaults = tuple(fields), defaults
        setattr(cls, "__match_args__", tuple(fields))  # noqa: B010 - what a dataclass sets

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._value_fields
        name = type(self).__qualname__
        if len(args) > len(fields):
            raise TypeError(f"{name}.__init__() takes {len(fields) + 1} positional arguments "
                            f"but {len(args) + 1} were given")
        values = dict(zip(fields, args, strict=False))
        for f in fields[len(args):]:
            if f in kwargs:
                values[f] = kwargs.pop(f)
            elif f in self._value_defaults:
                values[f] = self._value_defaults[f]
            else:
                raise TypeError(f"{name}.__init__() missing required argument: {f!r}")
        if kwargs:
            extra = next(iter(kwargs))
            raise TypeError(f"{name}.__init__() got {'multiple values for' if extra in values else 'an unexpected'} "
                            f"keyword argument {extra!r}")
        for f, v in values.items():
            object.__setattr__(self, f, v)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self._value_fields)

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._value_fields)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__ and isinstance(other, Value):
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
