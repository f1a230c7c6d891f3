"""Eval sets as plain questions with their gold documents and pages, whatever the source format.

- sec-10-q/qna_data.csv: UTF-8 with a BOM, CRLF records with LF inside quoted answers; 'Source
  Docs' is a glob over file names ("*AAPL*"); no pages.
- financebench/financebench_local.jsonl: evidence pages are 0-based pypdf indexes (+1 here).
- cmrc2018/cmrc2018_dev.json: SQuAD style; each paragraph (context) is one document <id>.txt.
- any *.jsonl of {"id", "question", "answer"?, "answers"? (more accepted forms), "doc"?, "page"?
  (1-based), "subject"? (a glob or a list of globs), "split"? ("dev" or "test"), "lang"?};
  "answer": null marks a question the knowledge base cannot answer. tests/eval_sets holds ours.
Questions carry a split: thresholds are fitted on "dev" and figures reported on "test"; the shared
sets, which have none, are split by a fixed hash of the question's id.
Each question also names its subject: globs of every document about the same thing (the company's
filings, the article's paragraphs). Asked with the subject excluded, it becomes a question the
knowledge base truly cannot answer; asked with only its gold documents excluded, siblings remain.
Only documents are ever offered for ingestion, never the answer keys beside them.
"""

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import KBError


class DatasetError(KBError):
    """An eval set that cannot be read; the message says which file and why."""


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...] = ()  # acceptable answers (any); empty when none is given
    unanswerable: bool = False  # the knowledge base should say it does not know
    documents: tuple[str, ...] = ()  # file-name globs; a chunk of any of them is a correct source
    pages: tuple[tuple[str, int], ...] = ()  # (file-name glob, 1-based page) of the evidence
    subject: tuple[str, ...] = ()  # globs of every document on the same subject (documents when empty)
    split: str = ""  # "dev" or "test"; "" -> by a hash of the id (see `assigned_split`)
    lang: str = ""  # the question's language where the set says ("en", "zh")

    @property
    def assigned_split(self) -> str:
        if self.split:
            return self.split
        return "dev" if hashlib.sha256(self.id.encode()).digest()[0] % 2 == 0 else "test"

    @property
    def subject_documents(self) -> tuple[str, ...]:
        return self.subject or self.documents


@dataclass(frozen=True)
class EvalDataset:
    name: str
    questions: tuple[EvalQuestion, ...]
    documents: tuple[Path, ...] = ()  # files to ingest for this set (PDFs; never the answer keys)
    texts: dict[str, str] = field(default_factory=dict)  # file name -> text, written out to ingest

    def only(self, split: str = "all", lang: str = "") -> "EvalDataset":
        """The questions of one split ("dev" or "test"; "all": every one), of one language if given;
        the name says which, so every figure printed carries its split."""
        kept = tuple(
            q for q in self.questions if (split == "all" or q.assigned_split == split) and (not lang or q.lang == lang)
        )
        label = ", ".join(x for x in (f"split {split}", f"lang {lang}" if lang else "") if x)
        return EvalDataset(f"{self.name} [{label}]", kept, self.documents, self.texts)

    def document_paths(self, scratch: Path) -> list[Path]:
        """The files to ingest; text documents are written into `scratch` first."""
        paths = list(self.documents)
        if self.texts:
            scratch.mkdir(parents=True, exist_ok=True)
            for name, text in self.texts.items():
                path = scratch / name
                path.write_text(text, encoding="utf-8")
                paths.append(path)
        return paths


def load_dataset(path: Path) -> EvalDataset:
    """A folder of shared/eval (sec-10-q, financebench, cmrc2018) or a JSONL question file."""
    if path.is_file():
        if path.suffix == ".jsonl":
            return load_jsonl(path)
        if path.suffix == ".csv":
            return load_sec_10q(path.parent, path)
        if path.suffix == ".json":
            return load_cmrc2018(path)
        raise DatasetError(f"{path} is not an eval set: expected a .jsonl, .csv or .json file, or a folder.")
    if (path / "qna_data.csv").is_file():
        return load_sec_10q(path)
    if (path / "financebench_local.jsonl").is_file():
        return load_financebench(path)
    if (path / "cmrc2018_dev.json").is_file():
        return load_cmrc2018(path / "cmrc2018_dev.json")
    raise DatasetError(f"{path} holds no known eval set (qna_data.csv, financebench_local.jsonl or cmrc2018_dev.json).")


def load_sec_10q(folder: Path, csv_path: Path | None = None) -> EvalDataset:
    csv_path = csv_path or folder / "qna_data.csv"
    # utf-8-sig drops the BOM; newline="" lets csv keep LF inside quoted answers apart from CRLF records.
    with open(csv_path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"Question", "Source Docs"} <= set(rows[0]):
        raise DatasetError(f"{csv_path} lacks the Question and Source Docs columns.")
    questions = []
    for i, row in enumerate(rows):
        documents = tuple(g.strip() for g in row["Source Docs"].split(",") if g.strip())
        questions.append(
            EvalQuestion(
                id=f"sec10q-{i}",
                question=row["Question"].strip(),
                answers=(row["Answer"].strip(),) if row.get("Answer") else (),
                documents=documents,
                subject=tuple(dict.fromkeys(_ticker_glob(g) for g in documents)),
            )
        )
    return EvalDataset("sec-10-q", tuple(questions), tuple(sorted((folder / "docs").glob("*.pdf"))))


def _ticker_glob(glob: str) -> str:
    """'*2023 Q3 NVDA*' -> '*NVDA*': every filing of the company (file names end in the ticker)."""
    words = glob.strip("*").split()
    return f"*{words[-1]}*" if words else glob


def _company_glob(doc_name: str) -> str:
    """'JOHNSON_JOHNSON_2022Q4_EARNINGS' -> 'JOHNSON_JOHNSON_*.pdf': every document of the company."""
    match = re.match(r"(.+?)_(?=\d{4})", doc_name)
    return f"{match.group(1)}_*.pdf" if match else f"{doc_name}.pdf"


def load_financebench(folder: Path, jsonl: Path | None = None) -> EvalDataset:
    jsonl = jsonl or folder / "financebench_local.jsonl"
    questions = []
    for line_no, record in _json_lines(jsonl):
        try:
            doc = f"{record['doc_name']}.pdf"
            pages = tuple(
                (f"{item.get('doc_name', record['doc_name'])}.pdf", int(item["evidence_page_num"]) + 1)
                for item in record.get("evidence") or ()
            )
            questions.append(
                EvalQuestion(
                    id=str(record.get("financebench_id", f"financebench-{line_no}")),
                    question=str(record["question"]).strip(),
                    answers=(str(record["answer"]).strip(),) if record.get("answer") else (),
                    documents=(doc,),
                    pages=pages,
                    subject=(_company_glob(str(record["doc_name"])),),
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise DatasetError(f"{jsonl} line {line_no}: {error!r} is missing or malformed.") from error
    needed = sorted({q.documents[0] for q in questions})
    documents = tuple(folder / "pdfs" / name for name in needed if (folder / "pdfs" / name).is_file())
    return EvalDataset("financebench", tuple(questions), documents)


def load_cmrc2018(json_path: Path) -> EvalDataset:
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise DatasetError(f"{json_path} is not valid JSON ({error}).") from error
    questions: list[EvalQuestion] = []
    texts: dict[str, str] = {}
    by_title: dict[str, list[str]] = {}  # several articles share a title: their paragraphs are one subject
    for article in data.get("data", []):
        for paragraph in article.get("paragraphs", []):
            by_title.setdefault(str(article.get("title", "")), []).append(f"{paragraph['id']}.txt")
    for article in data.get("data", []):
        subject = tuple(by_title[str(article.get("title", ""))])
        for paragraph in article.get("paragraphs", []):
            name = f"{paragraph['id']}.txt"
            texts[name] = paragraph["context"]
            for qa in paragraph.get("qas", []):
                # Grade against the best of the three answers; answer_start is not trusted.
                answers = tuple(dict.fromkeys(a["text"].strip() for a in qa.get("answers", []) if a.get("text")))
                questions.append(
                    EvalQuestion(qa["id"], qa["question"].strip(), answers, documents=(name,), subject=subject)
                )
    return EvalDataset("cmrc2018", tuple(questions), texts=texts)


def load_jsonl(path: Path) -> EvalDataset:
    questions = []
    for line_no, record in _json_lines(path):
        if "question" not in record:
            raise DatasetError(f"{path} line {line_no} has no 'question'.")
        answer = record.get("answer", "")
        accepted = [str(answer)] if answer else []
        accepted += [str(a) for a in record.get("answers") or () if a and answer is not None]
        doc = record.get("doc")
        page = record.get("page")
        subject = record.get("subject") or ()
        questions.append(
            EvalQuestion(
                id=str(record.get("id", line_no)),
                question=str(record["question"]).strip(),
                answers=tuple(dict.fromkeys(accepted)),
                unanswerable="answer" in record and answer is None,
                documents=(str(doc),) if doc else (),
                pages=((str(doc), int(page)),) if doc and page is not None else (),
                subject=(str(subject),) if isinstance(subject, str) else tuple(str(g) for g in subject),
                split=str(record.get("split") or ""),
                lang=str(record.get("lang") or ""),
            )
        )
    return EvalDataset(path.stem, tuple(questions))


def _json_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    records = []
    with open(path, encoding="utf-8-sig") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as error:
                raise DatasetError(f"{path} line {line_no} is not JSON ({error}).") from error
            if not isinstance(record, dict):
                raise DatasetError(f"{path} line {line_no} is not a JSON object.")
            records.append((line_no, record))
    return records
