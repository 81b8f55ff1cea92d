"""The PR comment is cut per stack at safe points (preview/comment.py)."""

from __future__ import annotations

from preview.comment import LIMIT, MARKER, compose, cut

NOTE = "_cut_\n"


def balanced(text: str) -> bool:
    fences = sum(1 for line in text.splitlines() if line.strip().startswith("```"))
    return fences % 2 == 0 and text.count("<details") == text.count("</details>")


def big_preview(objects: int) -> str:
    lines = ["## preview", "", "<details><summary>Rendered objects</summary>", ""]
    for i in range(objects):
        lines += [
            f"<details><summary><code>Deployment/x{i}</code></summary>",
            "",
            "```diff",
            *[f"+  line {j} of object {i}" for j in range(40)],
            "```",
            "",
            "</details>",
        ]
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def test_a_preview_that_fits_is_kept_whole():
    text = big_preview(2)
    assert cut(text, len(text), NOTE) == text
    assert compose([("dev", text)]) == f"{MARKER}\n{text}"


def test_a_long_preview_is_cut_outside_fences_with_details_closed():
    text = big_preview(200)
    for budget in (500, 5_000, 20_000, 33_333):
        kept = cut(text, budget, NOTE)
        assert len(kept) <= budget and kept.endswith(NOTE)
        assert balanced(kept), budget
        prefix = kept[: len(kept) - len(NOTE) - 1]
        while not text.startswith(prefix) and prefix.endswith("</details>\n"):  # the closing tags added
            prefix = prefix[: -len("</details>\n")]
        assert text.startswith(prefix) and (budget < 5_000 or len(prefix) > budget // 2)  # objects are ~1 KB


def test_each_stack_gets_its_share_and_a_short_one_lends_the_rest():
    dev, prod, local = big_preview(300), big_preview(300), big_preview(1)
    comment = compose([("dev", dev), ("prod", prod), ("local", local)])
    assert len(comment) <= LIMIT and balanced(comment)
    assert local in comment  # short: whole
    assert comment.count("preview is cut here") == 2
    dev_part = comment.split("## preview")[1]
    prod_part = comment.split("## preview")[2]
    assert abs(len(dev_part) - len(prod_part)) < 5_000  # shared evenly
