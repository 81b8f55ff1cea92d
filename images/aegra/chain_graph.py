"""A graph that needs no LLM: STEPS nodes in a chain, each sleeping `sleep` seconds and then
appending its name to `visited`. Every node is a checkpoint, so a run killed between nodes
shows exactly which steps it had committed, and a resumed run must add each missing step once:
`visited` ends as step_1 .. step_N, in order, without a repeat, whatever happened to the
replicas in between."""

import asyncio
import operator
from typing import Annotated

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

STEPS = 6


class State(TypedDict, total=False):
    sleep: float  # input: seconds each node sleeps
    visited: Annotated[list[str], operator.add]  # every node appends its name


def _node(name: str):
    async def node(state: State) -> dict:
        await asyncio.sleep(float(state.get("sleep") or 0))
        return {"visited": [name]}

    node.__name__ = name
    return node


builder = StateGraph(State)
previous = START
for i in range(1, STEPS + 1):
    builder.add_node(f"step_{i}", _node(f"step_{i}"))
    builder.add_edge(previous, f"step_{i}")
    previous = f"step_{i}"
builder.add_edge(previous, END)
graph = builder.compile()
