"""kiosk.core.value.Value behaves as the ``@dataclass(frozen=True)`` it replaces for the events and
actions: each check is made on a Value class and on the same class as a frozen dataclass."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pytest

from kiosk.core.actions import PulseGate, Store
from kiosk.core.events import TempSample, Tick
from kiosk.core.records import Record
from kiosk.core.value import Value


class Sample(Value):
    """A Value class."""

    name: str
    c: float | None
    t: float = 0.0
    unit: ClassVar[str] = "°C"


@dataclasses.dataclass(frozen=True)
class DcSample:
    """The same as a frozen dataclass."""

    name: str
    c: float | None
    t: float = 0.0
    unit: ClassVar[str] = "°C"


class Later(Sample):
    """A subclass adds a field after its base's."""

    note: str = ""


@pytest.mark.parametrize("cls", [Sample, DcSample])
def test_construction_repr_equality_hash_match_args(cls: Any) -> None:
    a = cls("forehead", 36.4, t=2.0)
    assert repr(a) == f"{cls.__qualname__}(name='forehead', c=36.4, t=2.0)"
    assert a == cls(name="forehead", c=36.4, t=2.0) == cls("forehead", 36.4, 2.0)
    assert a != cls("forehead", 36.4) and cls("x", None).t == 0.0
    assert hash(a) == hash(cls("forehead", 36.4, t=2.0))
    assert cls.__match_args__ == ("name", "c", "t")
    assert (a == ("forehead", 36.4, 2.0)) is False


@pytest.mark.parametrize("cls", [Sample, DcSample])
def test_frozen(cls: Any) -> None:
    a = cls("forehead", 36.4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.c = 37.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        del a.c


@pytest.mark.parametrize("cls", [Sample, DcSample])
@pytest.mark.parametrize(("args", "kwargs"), [((), {}), (("a", 1.0, 2.0, 3.0), {}), (("a", 1.0), {"x": 1}),
                                              (("a", 1.0), {"name": "b"})])
def test_wrong_arguments_are_a_type_error(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        cls(*args, **kwargs)


def test_equal_fields_of_another_class_are_not_equal() -> None:
    assert Sample("a", 1.0) != Later("a", 1.0)
    assert Later("a", 1.0, 2.0, "n") == Later(name="a", c=1.0, t=2.0, note="n")
    assert Later.__match_args__ == ("name", "c", "t", "note")


def test_a_field_without_default_after_one_with_is_refused_as_a_dataclass_does() -> None:
    with pytest.raises(TypeError, match="non-default argument 'late'"):
        class Bad(Sample):
            late: int  # type: ignore[misc]  # mypy refuses it too


def test_the_flows_events_and_actions_keep_their_dataclass_behaviour() -> None:
    record = Record(kind="pass", t=1.0, decision="pass")
    assert Store(record) == Store(record, ()) and Store(record).on_commit == ()
    assert Store(record, (PulseGate(),)) != Store(record)
    assert len({Tick(1.0), Tick(1.0), Tick(2.0)}) == 2
    assert repr(TempSample(36.1, 22.0, None, 3.0)) == "TempSample(object_c=36.1, ambient_c=22.0, body_c=None, t=3.0)"
