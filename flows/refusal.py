"""How a flow run says "refused" (từ chối) rather than "crashed".

A refused batch or meeting is an official's input that the rules turn down: nothing was applied, the
problems are listed, and the run did its job. It ends in a *Completed* state named **Refused** (the
Prefect UI shows the name, in the completed colour, with the message), never *Failed*, which stays
for crashes. The state's data is the flow's typed result, with `refused=True` and the problems, so the
CLI and the portal read the same thing the UI shows.
"""

from __future__ import annotations

from typing import Any

from prefect.client.schemas.objects import State
from prefect.states import Completed

REFUSED = "Refused"


def refused(message: str, data: Any) -> State:
    """The final state of a run whose input was refused: completed, named Refused, with the problems."""
    return Completed(name=REFUSED, message=message, data=data)


def is_refused(state: State) -> bool:
    return state.is_completed() and state.name == REFUSED
