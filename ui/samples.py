"""Sample documents for a first start: when the knowledge base is empty, an administrator can
load two short handbook-style documents (shipped in ui/samples/) and ask at once."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from app.records import UserInfo
from app.service import KnowledgeService
from ui.guard import Guard, friendly

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
OFFER = "The knowledge base is empty. Load two short sample documents to try it, or upload your own."


def sample_files() -> list[Path]:
    return sorted(SAMPLES_DIR.glob("*.md"))


@dataclass
class SamplesOffer:
    service: KnowledgeService
    guard: Guard

    def build(self) -> None:
        with gr.Row(visible=False, elem_id="kb-samples") as self.row:
            gr.Markdown(OFFER)
            self.button = gr.Button("Load sample documents", variant="primary", elem_id="kb-load-samples")
        self.button.click(self.load, None, [self.row], api_name="load_samples", concurrency_id="ingest")

    def visible_for(self, user: UserInfo) -> Any:
        """Offered to administrators while no document exists at all (members cannot tell)."""
        return gr.Row(visible=user.is_admin and not self.service.list_documents(user))

    @friendly
    def refresh(self, request: gr.Request) -> Any:
        """After an upload: the offer goes once a document exists (it showed over three ready filings)."""
        return self.visible_for(self.guard.user(request))

    @friendly
    def load(self, request: gr.Request) -> Any:
        user = self.guard.admin(request)
        results = self.service.ingest(sample_files(), user)
        failed = [r for r in results if r.outcome == "failed"]
        if failed:
            raise gr.Error(f"{failed[0].file_name} could not be loaded: {failed[0].message}")
        gr.Info(
            f"Loaded {len(results)} sample documents; ask away (e.g. 'How many vacation days do new employees get?')."
        )
        return gr.Row(visible=False)
