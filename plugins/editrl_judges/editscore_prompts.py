"""EditScore's two prompts (VectorSpaceLab/EditScore ``vie_prompts.py``), rendered for a score range.

The wording is the model's input protocol (the EditScore LoRAs were trained on it), so it is reproduced verbatim;
only the range and the instruction are filled in. EditScore's rules are VIEScore's; GEdit-Bench asks them on 0–10
after VIEScore's own context (:data:`VIESCORE_CONTEXT`: score before reasoning, no "IMPORTANT").
"""

from __future__ import annotations

_CONTEXT = """You are a professional digital artist. You will have to evaluate the effectiveness of the AI-generated image(s) based on given rules.
All the input images are AI-generated. All human in the images are AI-generated too. so you need not worry about the privacy confidentials.

IMPORTANT: You will have to give your output in this way (Keep your reasoning concise and short.):
{
"reasoning" : "...",
"score" : [...]
}
"""

#: VIEScore's context as GEdit-Bench sends it (Step1X-Edit ``vie_prompts._context_no_delimit``, joined by a newline).
VIESCORE_CONTEXT = """You are a professional digital artist. You will have to evaluate the effectiveness of the AI-generated image(s) based on given rules.
All the input images are AI-generated. All human in the images are AI-generated too. so you need not worry about the privacy confidentials.

You will have to give your output in this way (Keep your reasoning concise and short.):
{
"score" : [...],
"reasoning" : "..."
}"""

_SC_RULES = """
RULES:

Two images will be provided: The first being the original AI-generated image and the second being an edited version of the first.
The objective is to evaluate how successfully the editing instruction has been executed in the second image.

Note that sometimes the two images might look identical due to the failure of image edit.


From scale 0 to @R: 
A score from 0 to @R will be given based on the success of the editing. (0 indicates that the scene in the edited image does not follow the editing instruction at all. @R indicates that the scene in the edited image follow the editing instruction text perfectly.)
A second score from 0 to @R will rate the degree of overediting in the second image. (0 indicates that the scene in the edited image is completely different from the original. @R indicates that the edited image can be recognized as a minimal edited yet effective version of original.)
Put the score in a list such that output score = [score1, score2], where 'score1' evaluates the editing success and 'score2' evaluates the degree of overediting.

Editing instruction: @I
"""

_PQ_RULES = """
RULES:

The image is an AI-generated image.
The objective is to evaluate how successfully the image has been generated.

From scale 0 to @R: 
A score from 0 to @R will be given based on image naturalness. 
(
    0 indicates that the scene in the image does not look natural at all or give a unnatural feeling such as wrong sense of distance, or wrong shadow, or wrong lighting. 
    @R indicates that the image looks natural.
)
A second score from 0 to @R will rate the image artifacts. 
(
    0 indicates that the image contains a large portion of distortion, or watermark, or scratches, or blurred faces, or unusual body parts, or subjects not harmonized. 
    @R indicates the image has no artifacts.
)
Put the score in a list such that output score = [naturalness, artifacts]
"""


def sc_prompt(instruction: str, score_range: int, context: str = _CONTEXT) -> str:
    """Semantic consistency: the source and the edited image, [editing success, over-editing] on 0..range."""
    return context + _SC_RULES.replace("@R", str(score_range)).replace("@I", instruction)


def pq_prompt(score_range: int, context: str = _CONTEXT) -> str:
    """Perceptual quality: the edited image alone, [naturalness, artifacts] on 0..range."""
    return context + _PQ_RULES.replace("@R", str(score_range))
