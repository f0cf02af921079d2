"""``editrl new KIND NAME -o DIR``: scaffold a plugin package holding one working component of a kind."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from editrl.cli.output import console, user_errors


def new(
    kind: Annotated[
        str,
        typer.Argument(
            help="Component kind: backbone, dataset, exploration, solver, policy, reward, regularizer or optimizer."
        ),
    ],
    name: Annotated[str, typer.Argument(help="The component's registry name (the recipe's `type:`), e.g. my_reward.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Folder to create (absent or empty). Default: ./editrl-NAME.")
    ] = None,
) -> None:
    """Scaffold a plugin package: pyproject.toml with the `editrl` entry point, a commented component, a README and a
    test running editrl's contract suite. `pip install -e DIR` then `pytest DIR` pass unchanged."""
    from editrl.scaffold import plan, refuse_taken_names, write

    with user_errors():
        directory = output if output is not None else Path(f"editrl-{name.replace('_', '-')}")
        planned = plan(kind, name, directory)
        refuse_taken_names(kind, name)
        written = write(planned)
    console.print(f"created the {kind} plugin {name!r} in {directory}:", markup=False, highlight=False)
    for path in written:
        console.print(f"  {path}", markup=False, highlight=False)
    console.print(f"next: pip install -e {directory} && pytest {directory} && editrl ls {kind}", markup=False,
                  highlight=False)
