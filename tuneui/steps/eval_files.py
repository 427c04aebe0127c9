"""The files of a run's evaluation folder (`runs/<id>/eval/`), named once for the steps that share them."""

RESULT_FILE = "result.json"  # what `tuneui eval` concluded (EvalResult.to_dict)
PREDICTIONS_FILE = "predictions.json"  # the tuned model's answers, reused while data and model stay the same
REVIEW_FILE = "review.json"  # people's blind review: its layout and votes (tuneui.steps.review)
