"""The export's model card carries people's blind review, and the verdict as their votes lead it."""

from __future__ import annotations

from backends.runs import RunFolder
from tuneui.core.review import ReviewSession
from tuneui.steps.export.card import _evaluation
from tuneui.steps.review import open_review

from tests.review.reviewkit import RUN_ID, demo_project, write_evaluated_run


def test_the_model_card_has_no_review_until_people_vote_then_their_result_leads(tmp_path) -> None:
    workspace = demo_project(tmp_path / "project")
    write_evaluated_run(workspace)
    folder = RunFolder(workspace.run_dir(RUN_ID))
    before = "\n".join(_evaluation(workspace, folder))
    assert f"People's blind review: none yet (`tuneui review {RUN_ID}`)." in before

    review = open_review(workspace, RUN_ID)
    layout = review.store.layout_for(review.pairs, seed=5)
    session = ReviewSession(review.pairs, layout, "ann", review.store)
    for _ in review.pairs:  # the tuned answer, every time
        session.vote(layout.tuned_side[session.current.key])
    after = "\n".join(_evaluation(workspace, folder))
    assert "People's blind review:" in after and "22 votes: tuned better 22" in after, after
    verdict = after.splitlines()[0]
    assert verdict.startswith("Verdict: ") and "people" in verdict.lower(), verdict
