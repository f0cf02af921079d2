"""Served judges as rewards: ``mllm_judge`` (any OpenAI-compatible VLM, logprob or text mode) and ``editscore``
(EditScore's SC/PQ protocol, served or in process), plus ``editrl judge check``."""

from editrl import hookimpl


@hookimpl
def editrl_register_components(registry):
    from editrl_judges.editscore import EditScore
    from editrl_judges.mllm_judge import MllmJudge

    registry.add(MllmJudge)
    registry.add(EditScore)


@hookimpl
def editrl_register_commands(app):
    from editrl_judges.commands import judge_app

    app.add_typer(judge_app, name="judge")
