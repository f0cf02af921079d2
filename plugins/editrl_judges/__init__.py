"""Served judges as rewards: ``mllm_judge`` (any OpenAI-compatible VLM, logprob or text mode), ``editscore``
(EditScore's SC/PQ protocol, served or in process), the benchmark protocols ``gedit`` (GEdit-Bench's VIEScore) and
``imgedit`` (ImgEdit-Bench's per-type rubrics) for ``eval.metrics``, plus ``editrl judge check``."""

from editrl import hookimpl


@hookimpl
def editrl_register_components(registry):
    from editrl_judges.editscore import EditScore
    from editrl_judges.gedit import GEdit
    from editrl_judges.imgedit import ImgEdit
    from editrl_judges.mllm_judge import MllmJudge

    registry.add(MllmJudge)
    registry.add(EditScore)
    registry.add(GEdit)
    registry.add(ImgEdit)


@hookimpl
def editrl_register_commands(app):
    from editrl_judges.commands import judge_app

    app.add_typer(judge_app, name="judge")
