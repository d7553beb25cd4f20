"""Bytes to ``Material``: the state a value is in (present, empty, scrubbed, elided) and its fingerprint."""

from __future__ import annotations

import hashlib

from analyzer.gomodel.material import MaterialState
from analyzer.gomodel.pem import inspect_material
from analyzer.wiring.model import Change, Location, Material, State


def fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def classify_material(value: bytes, location: Location, history: tuple[Change, ...] = (), complete: bool = True) -> Material:
    if not value:
        return Material(State.EMPTY, location, value, detail="0 bytes", history=history, history_complete=complete)
    inspected = inspect_material(value)
    if inspected.state is MaterialState.EMPTY and inspected.original_size == 0:
        # must-gather's "0 bytes long": the value it replaced was empty, which is what the component reads.
        return Material(State.EMPTY, location, b"", detail="0 bytes (must-gather: \"0 bytes long\")", history=history,
                        history_complete=complete)
    if inspected.state in (State.SCRUBBED, State.ELIDED):  # one content state (model.vocabulary) on both sides
        return Material(inspected.state, location, value, detail=f"{inspected.state.value} in this evidence",
                        history=history, history_complete=complete)
    return Material(State.PRESENT, location, value, history=history, history_complete=complete)


# -- files on a node -------------------------------------------------------------------------------
