"""Evaluation of retrieval (and, through a plugged-in answer function, of answers) on eval sets.

report = run_eval(kb, Retriever(kb), load_dataset(Path("../shared/eval/sec-10-q")), answer_fn=None)
report.summary["doc_recall_at_5"]
"""

from app.eval.datasets import DatasetError, EvalDataset, EvalQuestion, load_dataset
from app.eval.runner import AnswerFn, EvalReport, run_eval

__all__ = ["AnswerFn", "DatasetError", "EvalDataset", "EvalQuestion", "EvalReport", "load_dataset", "run_eval"]
