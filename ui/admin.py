"""The Admin tab (administrators only; every handler checks again): users and groups, the
ingestion queue, evaluation results, and the model and settings in use."""

from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.records import UserInfo
from app.service import KnowledgeService
from app.settings import Settings
from ui.guard import Guard, friendly

USER_HEADERS = ["name", "role", "groups", "can sign in"]
GROUP_HEADERS = ["group", "members"]
QUEUE_HEADERS = ["id", "document", "status", "pages", "chunks", "uploaded by", "reason", "updated"]
TASK_HEADERS = ["job", "document", "status", "attempts", "worker"]
TASK_STATUS = {"todo": "queued", "doing": "running"}  # Procrastinate's words, as the page says them
# (summary key, column header), one pair per column after "when" and "dataset"
EVAL_COLUMNS = [
    ("n", "questions"),
    ("doc_recall_at_5", "doc recall@5"),
    ("page_recall_at_5", "page recall@5"),
    ("mrr", "MRR"),
    ("false_refusal_rate", "refused (answerable)"),
    ("refusal_rate", "refused (unanswerable)"),
    ("refusal_rate_siblings", "refused (hard)"),
    ("latency_ms_p50", "p50 ms"),
]
EVAL_HEADERS = ["when", "dataset", *(header for _, header in EVAL_COLUMNS)]
SHOWN_SETTINGS = (
    "model", "device", "dtype", "quantize", "threads", "max_context", "embedder", "data_dir", "host", "port",
    "max_upload_mb", "task_queue", "chain_k", "chain_answer_tokens", "chain_max_prompt_tokens",
    "retrieval_dense_weight", "retrieval_keyword_weight", "retrieval_metadata_boost",
)  # fmt: skip


def settings_rows(model_name: str, settings: Settings | None, in_use: dict[str, str] | None = None) -> list[list[str]]:
    """What runs now (from the engine itself), then the settings it was started with."""
    rows = [[f"in use: {key}", value] for key, value in (in_use or {}).items()]
    rows.append(["model id (API)", model_name])
    if settings is None:
        return rows
    rows += [[name, str(getattr(settings, name))] for name in SHOWN_SETTINGS]
    url = settings.database_url
    database = "SQLite in data_dir" if not url else url.split("://")[0] + "://…"  # never the credentials
    return [*rows, ["database", database]]


def _number(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else ("–" if value is None else str(value))


@dataclass
class AdminTab:
    service: KnowledgeService
    guard: Guard
    settings: Settings | None = None

    def build(self) -> None:
        with gr.Tab("Users and groups"):
            self.users = gr.Dataframe(headers=USER_HEADERS, label="Users", interactive=False, elem_id="kb-users")
            refresh_people = gr.Button("Refresh", size="sm")
            with gr.Row():
                name = gr.Textbox(label="New user", max_length=200, elem_id="kb-new-user")
                password = gr.Textbox(label="Password", type="password", max_length=1024, elem_id="kb-new-password")
                admin = gr.Checkbox(label="Administrator")
                self.new_groups = gr.CheckboxGroup(label="Groups", choices=[])
                add_user = gr.Button("Add user", variant="primary", elem_id="kb-add-user")
            with gr.Row():
                self.who = gr.Dropdown(label="User", choices=[], allow_custom_value=True)  # checked by the handler
                new_password = gr.Textbox(label="New password", type="password", max_length=1024)
                set_password = gr.Button("Set password")
            self.groups = gr.Dataframe(headers=GROUP_HEADERS, label="Groups", interactive=False)
            with gr.Row():
                group_name = gr.Textbox(label="New group", max_length=200)
                add_group = gr.Button("Add group")
                self.which = gr.Dropdown(label="Group", choices=[], allow_custom_value=True)
                join = gr.Button("Add user to group")
                leave = gr.Button("Remove user from group")
        with gr.Tab("Ingestion queue"):
            self.queue = gr.Dataframe(headers=QUEUE_HEADERS, label="Not ready yet", interactive=False, wrap=True)
            refresh_queue = gr.Button("Refresh", size="sm")
            self.tasks = gr.Dataframe(
                headers=TASK_HEADERS, label="Worker jobs (KB_TASK_QUEUE=procrastinate)", interactive=False
            )
            refresh_tasks = gr.Button("Refresh jobs", size="sm")
        with gr.Tab("Evaluation"):
            gr.Markdown("Results of `kb eval` runs on this server, newest first.")
            self.evals = gr.Dataframe(headers=EVAL_HEADERS, interactive=False)
        with gr.Tab("Model and settings"):
            self.settings_table = gr.Dataframe(headers=["setting", "value"], interactive=False)

        people = [self.users, self.groups, self.who, self.which, self.new_groups]
        refresh_people.click(self.people, None, people, api_name="list_users")
        form = [name, password, admin]  # emptied once the user is added
        add_user.click(self.add_user, [name, password, admin, self.new_groups], [*people, *form], api_name="add_user")
        set_password.click(self.set_password, [self.who, new_password], [new_password], api_name="set_password")
        add_group.click(self.add_group, [group_name], [*people, group_name], api_name="add_group")
        join.click(self.add_member, [self.which, self.who], people, api_name="add_member")
        leave.click(self.remove_member, [self.which, self.who], people, api_name="remove_member")
        refresh_queue.click(self.ingest_queue, None, [self.queue], api_name="ingest_queue")
        refresh_tasks.click(self.task_jobs, None, [self.tasks], api_name="task_jobs")

    def outputs_on_load(self) -> list[Any]:
        return [*self._people_outputs(), self.queue, self.tasks, self.evals, self.settings_table]

    def _people_outputs(self) -> list[Any]:
        return [self.users, self.groups, self.who, self.which, self.new_groups]

    def on_load(self, user: UserInfo) -> tuple[Any, ...]:
        """Filled for admins only; a member's page gets nothing (and the tab is hidden)."""
        if not user.is_admin:
            return tuple(gr.skip() for _ in self.outputs_on_load())
        return (*self._people(user), self._queue(user), self._tasks(user), self._evals(user), self._settings(user))

    def _people(self, user: UserInfo) -> tuple[Any, ...]:
        users = self.service.list_users(user)
        groups = self.service.list_groups(user)
        user_rows = [[u.name, u.role, ", ".join(u.groups), "yes" if can else "no"] for u, can in users]
        names, group_names = [u.name for u, _ in users], [g.name for g in groups]
        return (
            user_rows,
            [[g.name, ", ".join(g.members)] for g in groups],
            gr.Dropdown(choices=names),
            gr.Dropdown(choices=group_names),
            gr.CheckboxGroup(choices=group_names, value=[]),
        )

    def _queue(self, user: UserInfo) -> list[list[object]]:
        return [
            [d.id, d.file_name, d.status, d.pages or 0, d.chunks, d.uploaded_by or "", d.error or "",
             d.updated_at.strftime("%Y-%m-%d %H:%M:%S")]
            for d in self.service.ingest_queue(user)
        ]  # fmt: skip

    def _tasks(self, user: UserInfo) -> list[list[object]]:
        return [
            [j.id, j.document_id or "", TASK_STATUS.get(j.status, j.status), j.attempts, j.worker_id or ""]
            for j in self.service.task_jobs(user)
        ]

    def _evals(self, user: UserInfo) -> list[list[object]]:
        rows = []
        for record in self.service.eval_results(user):
            figures = [_number(record["summary"].get(key)) for key, _ in EVAL_COLUMNS]
            rows.append([record.get("at", ""), record.get("dataset", ""), *figures])
        return rows

    def _settings(self, user: UserInfo) -> list[list[str]]:
        return settings_rows(self.service.model_name, self.settings, self.service.model_in_use(user))

    # ---- handlers: each checks that the caller is an administrator -------------------

    @friendly
    def add_user(
        self, name: str, password: str, admin: bool, groups: list[str] | None, request: gr.Request
    ) -> tuple[Any, ...]:
        actor = self.guard.admin(request)
        if not (name or "").strip():
            raise gr.Error("Type the new user's name.")
        added = self.service.add_user(
            name, admin=bool(admin), groups=tuple(groups or ()), actor=actor, password=password or None
        )
        gr.Info(f"Added {added.role} {added.name}" + ("" if password else " (no password yet: they cannot sign in)."))
        return (*self._people(actor), "", "", False)

    @friendly
    def set_password(self, name: str | None, password: str, request: gr.Request) -> str:
        actor = self.guard.admin(request)
        if not name:
            raise gr.Error("Choose a user first.")
        self.service.set_password(name, password or "", actor)
        gr.Info(f"Password of {name} set.")
        return ""

    @friendly
    def add_group(self, name: str, request: gr.Request) -> tuple[Any, ...]:
        actor = self.guard.admin(request)
        if not (name or "").strip():
            raise gr.Error("Type the new group's name.")
        self.service.add_group(name, actor)
        return (*self._people(actor), "")

    @friendly
    def add_member(self, group: str | None, name: str | None, request: gr.Request) -> tuple[Any, ...]:
        actor = self.guard.admin(request)
        if not group or not name:
            raise gr.Error("Choose a user and a group first.")
        self.service.add_member(group, name, actor)
        return self._people(actor)

    @friendly
    def remove_member(self, group: str | None, name: str | None, request: gr.Request) -> tuple[Any, ...]:
        actor = self.guard.admin(request)
        if not group or not name:
            raise gr.Error("Choose a user and a group first.")
        self.service.remove_member(group, name, actor)
        return self._people(actor)

    @friendly
    def ingest_queue(self, request: gr.Request) -> list[list[object]]:
        return self._queue(self.guard.admin(request))

    @friendly
    def task_jobs(self, request: gr.Request) -> list[list[object]]:
        return self._tasks(self.guard.admin(request))

    @friendly
    def people(self, request: gr.Request) -> tuple[Any, ...]:
        return self._people(self.guard.admin(request))
