"""The units a reading may be sent in: the one table every path reads.

Energy units give the energy of the interval; power units give the average power over it,
so their energy is power × interval. Everything is stored in kWh. Units are matched
case-insensitively (``kwh``, ``KWH``); surrounding spaces are ignored.
"""

from typing import NamedTuple


class Unit(NamedTuple):
    """A unit of readings and how it becomes kWh."""

    name: str  # as documented
    kwh: float  # kWh per unit (per unit-hour for power units)
    is_power: bool  # an average power: multiply by the interval in hours


UNITS = (
    Unit("Wh", 0.001, False),
    Unit("kWh", 1.0, False),
    Unit("MWh", 1000.0, False),
    Unit("W", 0.001, True),
    Unit("kW", 1.0, True),
    Unit("MW", 1000.0, True),
)
DEFAULT_UNIT = UNITS[1]  # kWh: a record without a unit
UNIT_NAMES = tuple(unit.name for unit in UNITS)
ENERGY_UNIT_NAMES = tuple(unit.name for unit in UNITS if not unit.is_power)
UNIT_LIST = ", ".join(UNIT_NAMES)  # for messages and the API documentation

_BY_FOLDED_NAME = {unit.name.lower(): unit for unit in UNITS}


def find_unit(text):
    """Return the :class:`Unit` named by ``text`` (any case), or None."""
    if type(text) is not str:
        return None
    return _BY_FOLDED_NAME.get(text.strip().lower())
