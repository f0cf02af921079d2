"""The embedded toy testbed, editrl's CPU default: a procedural shape-editing world (``toy_shapes``), a small
joint-attention editor (``toy_editor``), a ground-truth judge (``toy_judge``) and ``editrl toy`` commands."""

from editrl import hookimpl


@hookimpl
def editrl_register_components(registry):
    from editrl_toy.backbone import ToyEditor
    from editrl_toy.dataset import ToyShapes
    from editrl_toy.judge import ToyJudge

    registry.add(ToyShapes)
    registry.add(ToyEditor)
    registry.add(ToyJudge)


@hookimpl
def editrl_register_commands(app):
    from editrl_toy.commands import toy_app

    app.add_typer(toy_app, name="toy")
