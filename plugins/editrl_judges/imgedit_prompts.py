"""ImgEdit-Bench's per-type judge prompts (PKU-YuanGroup/ImgEdit ``Benchmark/Basic/prompts.json``), as data.

The wording is the benchmark's input protocol, so :func:`imgedit_prompt` renders each type's prompt character for
character as the official ``basic_bench.py`` sends it: a rater role, three criteria each on 1–5 with a line per
level, the rule that the second and third score be no higher than the first, the response format (a brief reasoning
line, then one ``<criterion>: <n>`` line per criterion) and the instruction. Only the parts that differ between the
nine types are stored; the shared sentences are written once, in :func:`imgedit_prompt`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rubric:
    """One edit type's rubric."""

    grading: str  # what the rater specialises in and is given, after "You are a data rater specializing in grading "
    criteria: tuple[tuple[str, tuple[str, str, str, str, str]], ...]  # (heading, levels 1..5) × 3
    answers: tuple[str, str, str]  # the criteria's names in the response format (the answer's line labels)
    images: str  # the closing line that introduces the images


def imgedit_prompt(edit_type: str, instruction: str) -> str:
    """The text ImgEdit sends (before the source and the edited image) for one edit of ``edit_type``."""
    rubric = RUBRICS[edit_type]
    criteria = "\n\n".join(
        heading + "".join(f"\n{level}  {text}" for level, text in enumerate(levels, start=1))
        for heading, levels in rubric.criteria
    )
    answers = "".join(f"{name}: A number from 1 to 5.\n" for name in rubric.answers)
    return (
        f"\nYou are a data rater specializing in grading {rubric.grading}\n\n{criteria}\n"
        "The second and third score should no higher than first score!!!\n\nExample Response Format:\n"
        "Brief reasoning: A short explanation of the score based on the criteria above, no more than 20 words.\n"
        f"{answers}editing instruction is : {instruction}.\n\n{rubric.images}\n"
    )


#: The nine edit types of ImgEdit-Bench's basic suite (``basic_edit.json``'s ``edit_type``), in the official order.
RUBRICS: dict[str, Rubric] = {
    "replace": Rubric(
        ('image replacement edits. You will be given two images (before and after editing) and the corresponding '
         'editing instructions. Your task is to evaluate the replacement editing effect on a 5-point scale from three '
         'perspectives:'),
        criteria=(
            ('Prompt Compliance', (
                'Target not replaced, or an unrelated object edited.',
                'Only part of the target replaced, or wrong class/description used.',
                ('Target largely replaced but other objects altered, remnants visible, or count/position clearly '
                 'wrong.'),
                'Correct object fully replaced; only minor attribute errors (colour, size, etc.).',
                ('Perfect replacement: all and only the specified objects removed; new objects’ class, number, '
                 'position, scale, pose and detail exactly match the prompt.'),
            )),
            ('Visual Naturalness', (
                'Image heavily broken or new object deformed / extremely blurred.',
                'Obvious seams, smears, or strong mismatch in resolution or colour; background not restored.',
                'Basic style similar, but lighting or palette clashes; fuzzy edges or noise are noticeable.',
                ('Style almost uniform; tiny edge artefacts visible only on close inspection; casual viewers see no '
                 'edit.'),
                'Completely seamless; new objects blend fully with the scene, edit area undetectable.',
            )),
            ('Physical & Detail Integrity', (
                ('Floating, interpenetration, severe perspective/light errors; key original elements ruined; '
                 'background heavily warped.'),
                'Missing shadows/occlusion; large background shifts or holes.',
                ('Lighting, perspective and contact surfaces mostly correct; small but tolerable errors; background '
                 'adjusted locally.'),
                ('New objects interact realistically with scene (shadows, reflections, texture) and preserve existing '
                 'details; background change minimal.'),
                ('Physically flawless and enhances realism: accurate highlights, shadows, reflections, ambient '
                 'effects; background untouched.'),
            )),
        ),
        answers=('Prompt Compliance', 'Visual Naturalness', 'Physical & Detail Integrity'),
        images='Below are the images before and after editing:',
    ),
    "add": Rubric(
        ('image addition edits. You will be given two images (before and after editing) and the corresponding editing '
         'instructions. Your task is to evaluate the added object(s) on a 5-point scale from three perspectives:'),
        criteria=(
            ('Prompt Compliance', (
                'Nothing added or the added content is corrupt.',
                'Added object is a wrong class or unrelated to the prompt.',
                'Correct class, but key attributes (position, colour, size, count, etc.) are wrong.',
                'Main attributes correct; only minor details off or 1-2 small features missing.',
                'Every stated attribute correct and scene logic reasonable; only microscopic flaws.',
            )),
            ('Visual Naturalness', (
                'Image badly broken or full of artefacts.',
                'Obvious paste marks; style, resolution, or palette strongly mismatch.',
                'General style similar, but lighting or colours clearly clash; noticeable disharmony.',
                'Style almost uniform; small edge issues visible only when zoomed.',
                'Perfect blend; no visible difference between added object and original image.',
            )),
            ('Physical & Detail Coherence', (
                ('Severe physical errors (floating, wrong perspective/light); key original elements blocked; '
                 'background heavily distorted.'),
                ('Contact or occlusion handled poorly; minor background shifts, jaggies or noise; background visibly '
                 'changed.'),
                ('Lighting, perspective, and contact mostly correct; remaining flaws small and acceptable; limited '
                 'background change.'),
                ('Shadows, reflections, and material response believable; no loss of original detail; background '
                 'changes are minute.'),
                ('Added object enhances overall realism: precise highlights, shadows, ambient effects; background '
                 'essentially untouched.'),
            )),
        ),
        answers=('Prompt Compliance', 'Visual Naturalness', 'Physical & Detail Coherence'),
        images='Below are the images before and after editing:',
    ),
    "adjust": Rubric(
        ('attribute alteration edits. You will be given two images (before and after editing) and the corresponding '
         'editing instructions. Your task is to evaluate the attribute change on a 5-point scale from three '
         'perspectives:'),
        criteria=(
            ('Prompt Compliance', (
                'Target not adjusted, wrong object touched, or geometry changed.',
                ('Right object but wrong attribute value/direction; only part edited; other objects also altered; '
                 'slight stretch/crop.'),
                ('Mainly correct object and attribute, yet large hue/brightness/texture error; minor collateral '
                 'edits; visible jaggies/distortion.'),
                ('All requested objects adjusted, only their attributes changed; shape kept; small inaccuracy in '
                 'colour, material or amount.'),
                ('Exactly and only the requested objects adjusted; colour, material, gloss etc. match the prompt '
                 'perfectly; shape 100% intact; zero unintended edits.'),
            )),
            ('Visual Seamlessness', (
                'Massive colour spill, mosaics or heavy noise; image nearly unusable.',
                ('Clear smears/bleeding on edges; abrupt resolution or tone shift; highlights/shadows clipped; '
                 'background gaps.'),
                'Overall palette OK but local tone or grain conflicts; soft edges; noticeable disharmony.',
                'Style unified, transitions smooth; only slight edge artefacts visible when zoomed.',
                ('No detectable edit traces; colours/materials fuse with scene lighting; edit area practically '
                 'invisible.'),
            )),
            ('Physical & Detail Fidelity', (
                'Object floating, interpenetrating, or severe perspective/light mismatch; background badly warped.',
                'Missing shadows/highlights; wrong reflection direction; background visibly discoloured or distorted.',
                ('Light, perspective and contact surface largely correct; minor acceptable flaws; background only '
                 'locally affected.'),
                ('Adjusted material interacts believably with scene; shadows, highlights, reflections handled well; '
                 'original details preserved.'),
                ('High physical realism: fine micro-highlights, diffuse bounce, subsurface effects present; overall '
                 'scene realism improved.'),
            )),
        ),
        answers=('Prompt Compliance', 'Visual Seamlessness', 'Physical & Detail Fidelity'),
        images='Below are the images before and after editing:',
    ),
    "remove": Rubric(
        ('object removal edits. You will be given two images (before and after editing) and the corresponding editing '
         'instructions. Your task is to evaluate the removal quality on a 5-point scale from three perspectives:'),
        criteria=(
            ('Prompt Compliance', (
                'Nothing removed, or an unrelated object edited.',
                ('Target only partly removed, or a different instance/class deleted, or another object appears in the '
                 'gap.'),
                'Target mostly removed but extra objects also deleted, or fragments of the target remain.',
                ('Only the specified objects removed, but a few tiny/background items deleted by mistake, or the '
                 'count is wrong.'),
                'Perfect: all and only the requested objects removed; every other element untouched.',
            )),
            ('Visual Naturalness', (
                'Image badly broken (large holes, strong artefacts).',
                'Clear erase marks; colour/resolution mismatch; background not restored.',
                'General look acceptable yet lighting/colour/style still clash; blur or noise visible.',
                'Style consistent; minor edge issues visible only when zoomed.',
                'Seamless: removal is virtually impossible to spot.',
            )),
            ('Physical & Detail Integrity', (
                ('Severe physical errors (floating items, wrong perspective/light); key scene elements damaged; '
                 'background heavily warped.'),
                'Large un-filled gaps or obvious background shifts.',
                ('Lighting, perspective and contacts mostly correct; flaws small and tolerable; background adjusted '
                 'locally.'),
                ('Background reconstruction clean; existing details preserved; only minute changes outside the '
                 'removal area.'),
                ('Physically flawless and even enhances realism: accurate light/shadow/texture infill, high-quality '
                 'micro-details.'),
            )),
        ),
        answers=('Prompt Compliance', 'Visual Naturalness', 'Physical & Detail Integrity'),
        images='Below are the images before and after editing:',
    ),
    "style": Rubric(
        ('style transfer edits. You will be given an input image, a reference style, and the styled result. Your task '
         'is to evaluate the style transfer on a 5-point scale from three perspectives:'),
        criteria=(
            ('Style Fidelity', (
                'Target style absent or clearly wrong.',
                'Style shows in a few areas only, or mixed with unrelated styles.',
                'Key traits (palette, brushwork, texture) present but patchy or inconsistent.',
                'Style reproduced across almost the whole image; only small local mismatches.',
                ('Full, faithful transfer: colour, texture, brushwork, lighting all match the exemplar over the '
                 'entire image.'),
            )),
            ('Content Preservation', (
                'Major objects or layout lost/distorted; original scene barely recognisable.',
                'Main subject recognisable, but size, perspective or key parts clearly wrong/missing.',
                'Overall structure correct; some local warping or minor omissions.',
                'Nearly all geometry intact; only slight, non-distracting deformation.',
                'All objects and spatial relations kept; only stylistic, harmless distortion.',
            )),
            ('Rendering Quality', (
                'Heavy noise, banding, pixel damage or blur; image unusable.',
                'Visible seams, aliasing, colour drift; low resolution or chaotic strokes.',
                'Moderate quality: local blur/noise/texture breaks, but generally acceptable.',
                'Sharp, coherent strokes; tiny artefacts visible only when zoomed.',
                'High resolution, no artefacts; strokes, textures and colour transitions look fully natural.',
            )),
        ),
        answers=('Style Fidelity', 'Content Preservation', 'Rendering Quality'),
        images='Below are the input, reference style, and styled output image:',
    ),
    "action": Rubric(
        ('action or expression change edits. You will be given two images (before and after editing) and the editing '
         'instruction. Your task is to evaluate the motion or expression change on a 5-point scale from three '
         'perspectives:'),
        criteria=(
            ('Action / Expression Fidelity', (
                'No visible change, or wrong action / expression.',
                'Partial or clearly incorrect pose; only some body parts change; expression direction wrong.',
                'Main idea present but details off (angle, side, intensity, missing gesture).',
                ('Requested pose / expression achieved with just minor inaccuracy (small angular drift, timing '
                 'nuance).'),
                'Exact match to prompt: every limb, gesture, and facial muscle aligns with the described action.',
            )),
            ('Identity Preservation', (
                'Person unrecognisable; face or body replaced.',
                'Strong drift: key facial features, hairstyle or clothing heavily altered.',
                'Mostly same identity; moderate changes in some features but still recognisable.',
                'Identity clearly the same; only subtle stylisation or lighting differences.',
                'Perfect preservation of face, hairstyle, skin tone, clothing and accessories.',
            )),
            ('Visual & Anatomical Coherence', (
                'Severe artifacts: broken or duplicated limbs, extreme distortion, heavy noise/blur.',
                'Noticeable cut-out halos, proportion errors, lighting or perspective clearly off.',
                'Generally plausible; minor joint or shading issues; small noise/blur acceptable.',
                'Clean render; anatomy, lighting, depth and edges consistent; flaws only on close inspection.',
                'Flawless realism or stylistic coherence; perfect anatomy, lighting, shadows and texture continuity.',
            )),
        ),
        answers=('Action Fidelity', 'Identity Preservation', 'Visual & Anatomical Coherence'),
        images='Below are the images before and after editing:',
    ),
    "extract": Rubric(
        ('object cut-out quality. You will be given an image with the object extracted on a white background. Your '
         'task is to evaluate the cut-out accuracy on a 5-point scale from three perspectives:'),
        criteria=(
            ('Object Selection & Identity', (
                'Wrong object or multiple objects extracted.',
                'Correct class but only part of the object, or obvious intrusions from other items.',
                'Object largely correct yet small pieces missing / extra, identity still recognisable.',
                'Full object with clear identity; only tiny mis-crop (e.g., tip of antenna).',
                'Exact requested object, complete and unmistakably the same instance (ID).',
            )),
            ('Mask Precision & Background Purity', (
                'Large background remnants, holes in mask, or non-white backdrop dominates.',
                'Noticeable jagged edges, colour fringes, grey/colour patches in white area.',
                'Acceptable mask; minor edge softness or faint halo visible on close look.',
                'Clean, smooth edges; white (#FFFFFF) background uniform, tiny artefacts only when zoomed.',
                'Crisp anti-aliased contour, zero spill or halo; backdrop perfectly pure white throughout.',
            )),
            ('Object Integrity & Visual Quality', (
                'Severe blur, compression, deformation, or missing parts; unusable.',
                'Moderate noise, colour shift, or slight warping; details clearly degraded.',
                'Overall intact with minor softness or noise; colours mostly preserved.',
                'Sharp detail, accurate colours; negligible artefacts.',
                'Pristine: high-resolution detail, true colours, no artefacts or distortion.',
            )),
        ),
        answers=('Object Identity', 'Mask Precision', 'Visual Quality'),
        images='Below is the extracted object image:',
    ),
    "background": Rubric(
        ('background editing. You will be given two images (before and after editing) and the editing instruction. '
         'Your task is to evaluate the background change on a 5-point scale from three perspectives:'),
        criteria=(
            ('Instruction Compliance', (
                'No change, or background unrelated to prompt, or foreground also replaced/distorted.',
                'Background partly replaced or wrong style/content; foreground noticeably altered.',
                'Main background replaced but elements missing/extra, or faint spill onto subject edges.',
                ('Requested background fully present; foreground intact except minute artefacts or small prompt '
                 'mismatch (e.g. colour tone).'),
                'Background exactly matches prompt (content, style, placement); all foreground pixels untouched.',
            )),
            ('Visual Seamlessness (Edge & Texture Blend)', (
                'Large tearing, posterisation, extreme blur/noise; edit area obvious at a glance.',
                'Clear cut-out halos, colour-resolution gap, or heavy smudge strokes.',
                'Blend acceptable but visible on closer look: slight edge blur, grain or palette shift.',
                'Nearly invisible seams; textures and sharpness aligned, only minor issues when zoomed in.',
                'Indistinguishable composite: edges, textures, resolution and colour grading perfectly continuous.',
            )),
            ('Physical Consistency (Lighting, Perspective, Depth)', (
                'Severe mismatch: wrong horizon, conflicting light direction, floating subject, warped geometry.',
                'Noticeable but not extreme inconsistencies in light, shadows or scale; depth cues off.',
                'Overall believable; small errors in shadow length, perspective or ambient colour.',
                'Lighting, scale, depth, and camera angle well matched; only subtle discrepancies.',
                ('Physically flawless: foreground and new background share coherent light, shadows, reflections, '
                 'perspective and atmospheric depth, enhancing overall realism.'),
            )),
        ),
        answers=('Instruction Compliance', 'Visual Seamlessness', 'Physical Consistency'),
        images='Below are the images before and after editing:',
    ),
    "compose": Rubric(
        ('hybrid image edits (involving multiple operations on multiple objects). You will be given two images '
         '(before and after editing) and the editing instruction. Your task is to evaluate the overall editing '
         'quality on a 5-point scale from three perspectives:'),
        criteria=(
            ('Instruction Compliance', (
                'Neither object nor operations match the prompt; wrong items edited or shapes distorted.',
                ('Only one object correctly edited, or both edited but with wrong/partial operations; collateral '
                 'changes to other items.'),
                ('Both target objects touched, each with the requested operation broadly correct but missing details '
                 '(e.g., wrong colour value, incomplete removal).'),
                ('Both objects receive the exact operations; tiny deviations in amount, position, or parameter. No '
                 'unintended edits elsewhere.'),
                ('Perfect execution: each object fully reflects its specified operation, all other scene elements '
                 'untouched.'),
            )),
            ('Visual Naturalness (Seamlessness)', (
                'Large artefacts, obvious cut-outs, heavy blur/noise; edits conspicuous at a glance.',
                'Clear edge halos, colour or resolution mismatch, awkward scaling.',
                'Acceptable but visible on close look: slight edge softness, minor palette or focus shift.',
                'Edits blend smoothly; seams hard to spot, textures and sharpness largely consistent.',
                ('Indistinguishable composite: colour grading, grain, resolution and style fully match the original '
                 'image.'),
            )),
            ('Physical Consistency & Fine Detail', (
                'Severe lighting/perspective mismatch, missing or wrong shadows; objects appear floating or warped.',
                'Noticeable but tolerable inconsistencies in illumination, scale, or depth cues.',
                'Generally plausible; small errors in shadow length, reflection angle, or texture alignment.',
                'Lighting, perspective, and material response closely match; only subtle flaws visible when zoomed.',
                ('Physically flawless: shadows, highlights, reflections, depth and texture perfectly integrated, '
                 'enhancing overall realism.'),
            )),
        ),
        answers=('Instruction Compliance', 'Visual Naturalness', 'Physical Consistency & Fine Detail'),
        images='Below are the images before and after editing:',
    ),
}
