import pytest

from editrl.errors import RegistryError
from editrl.interfaces import Reward
from editrl.registry import Registry


class Sharp(Reward):
    name = "sharp"

    def score(self, inputs):  # pragma: no cover - never called
        raise AssertionError


def test_add_get_names():
    reg = Registry()
    reg.add(Sharp)
    assert reg.get("reward", "sharp") is Sharp
    assert reg.names("reward") == ["sharp"]
    assert reg.add(Sharp) is Sharp  # the same class twice is harmless


def test_duplicate_names_are_refused_naming_both_classes():
    reg = Registry()
    reg.add(Sharp)
    other = type("Other", (Sharp,), {"__module__": "elsewhere"})
    with pytest.raises(RegistryError, match=r"duplicate reward name 'sharp'.*Sharp.*elsewhere\.Other"):
        reg.add(other)


def test_unknown_name_lists_valid_ones_and_bad_classes_are_refused():
    reg = Registry()
    reg.add(Sharp)
    with pytest.raises(RegistryError, match="expected one of: sharp"):
        reg.get("reward", "blurry")
    with pytest.raises(RegistryError, match="set a class attribute `name`"):
        reg.add(type("Nameless", (Reward,), {}))
    with pytest.raises(RegistryError, match="kind 'colour' is not one of"):
        reg.add(type("Odd", (), {"kind": "colour", "name": "x"}))
