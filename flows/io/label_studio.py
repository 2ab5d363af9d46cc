"""Label Studio adapter (SDK 2.x): connection, projects by title, a durable task<->record map, idempotent push, incremental fetch.

The task<->record mapping lives in a SQLite file under the workspace, not in memory, and every task
carries its record id in ``data.yuliao_id``. A push first reconciles the local map with the server
(adopting tasks the server has but the map lacks - e.g. a batch imported just before a crash -
dropping map rows whose tasks are gone, and deleting duplicate, unannotated copies), then imports
only the records the project does not have yet, in batches, recording each batch as soon as the
server answers. A repeated push therefore adds nothing, and a push cut short by a dead server
resumes where it stopped without duplicates or losses.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / "configs" / "label_studio"
DEFAULT_PORT = 8089
RECORD_KEY = "yuliao_id"  # task.data key holding the record id: the server-side half of the mapping
TITLE_MAX_CHARS = 50  # Label Studio rejects longer project titles
LS_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # the only datetime format the data-manager filters accept
# An annotation saved while a collect is listing can commit with an updated_at just below the
# newest one seen; re-reading a few seconds is cheap because the table is upserted by annotation id.
WATERMARK_OVERLAP = timedelta(seconds=5)
# `include` applies to the task and to its nested annotations alike: name every field we read.
TASK_FETCH_FIELDS = "id,data,updated_at,annotations,completed_by,result,was_cancelled,ground_truth,lead_time,created_at"


class LabelStudioUnavailable(RuntimeError):
    """The server cannot be reached or refuses our token; the message says what to do."""


@dataclass(frozen=True)
class LabelConfig:
    """A labeling interface shipped in configs/label_studio and what yuliao reads back from it."""

    name: str
    file: str
    control: str  # the task-level question agreement and aggregation work on
    column: str  # aggregated into label_<column>
    ordinal_order: tuple[str, ...] | None = None
    spans_control: str | None = None  # span labels control fed from pii_spans

    @property
    def path(self) -> Path:
        """Return the XML file."""
        return CONFIG_DIR / self.file

    def xml(self) -> str:
        """Return the label config XML."""
        return self.path.read_text(encoding="utf-8")


CONFIGS: dict[str, LabelConfig] = {
    c.name: c
    for c in (
        LabelConfig("quality_rating", "quality_rating.xml", "quality", "quality", ("1", "2", "3", "4", "5")),
        LabelConfig("domain_classification", "domain_classification.xml", "domain", "domain"),
        LabelConfig("pii_review", "pii_review.xml", "pii_verdict", "pii_verdict", spans_control="pii"),
    )
}


def get_config(name: str) -> LabelConfig:
    """Return the named labeling config, or raise ValueError listing the known ones."""
    if name not in CONFIGS:
        raise ValueError(f"unknown labeling config {name!r}; known: {sorted(CONFIGS)}")
    return CONFIGS[name]


# --- connection ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSettings:
    """Where the server is and the token yuliao uses (never printed)."""

    url: str
    token: str = field(repr=False)


class LabelStudioHTTPError(RuntimeError):
    """Label Studio answered a request with an error status; `status_code` says which."""

    def __init__(self, status_code: int, method: str, path: str, body: str) -> None:
        super().__init__(f"{method} {path} answered HTTP {status_code}: {body[:300]}")
        self.status_code = status_code


def _is_jwt(token: str) -> bool:
    return token.count(".") == 2


class LabelStudioAPI:
    """The few Label Studio REST calls yuliao makes, as plain httpx requests returning JSON.

    yuliao's commands use this instead of label_studio_sdk: importing the SDK (it pulls pandas, jsf,
    faker) cost more CPU than a whole push of 2,000 tasks. Legacy tokens go as ``Token``; a personal
    access token (a JWT refresh token) is exchanged once for an access token sent as ``Bearer``.
    No request is retried: a retried import whose first attempt landed would duplicate tasks.
    """

    def __init__(self, settings: ServerSettings, timeout: float = 300.0) -> None:
        self.settings = settings
        self.requests_sent = 0  # how many requests this client made (push and collect records report it)
        self._http = httpx.Client(base_url=settings.url, timeout=timeout, headers={"Accept": "application/json"})
        self._http.headers["Authorization"] = self._authorization(settings.token)

    def _authorization(self, token: str) -> str:
        if not _is_jwt(token):
            return f"Token {token}"
        access = self._call("POST", "/api/token/refresh/", json={"refresh": token}, auth=False)
        return f"Bearer {access['access']}"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, auth: bool = True, **kwargs: object) -> object:
        """Send one request; return its JSON (None for an empty body); raise LabelStudioHTTPError on a 4xx/5xx."""
        request = self._http.build_request(method, path, **kwargs)  # type: ignore[arg-type]
        if not auth:
            request.headers.pop("Authorization", None)
        response = self._http.send(request)
        self.requests_sent += 1
        if response.status_code >= 400:
            raise LabelStudioHTTPError(response.status_code, method, path, response.text)
        return response.json() if response.content else None

    def whoami(self) -> dict:
        """Return the token's user."""
        return self._call("GET", "/api/current-user/whoami")  # type: ignore[return-value]

    def users(self) -> list[dict]:
        """Return every user the token can see."""
        return self._call("GET", "/api/users/")  # type: ignore[return-value]

    def create_user(self, username: str, email: str) -> dict:
        """Create a user without a log-in (for scripted annotations); return it."""
        return self._call("POST", "/api/users/", json={"username": username, "email": email})  # type: ignore[return-value]

    def invite_token(self) -> str:
        """Return the organisation's invite-link token."""
        return self._call("GET", "/api/invite")["token"]  # type: ignore[index]

    def projects_titled(self, title: str) -> list[dict]:
        """Return the projects whose title matches `title` (Label Studio filters by substring; pages followed)."""
        found: list[dict] = []
        page = 1
        while True:
            body = self._call("GET", "/api/projects/", params={"title": title, "page": page, "page_size": 100})
            results = body["results"] if isinstance(body, dict) else body  # type: ignore[index]
            found += results
            if not isinstance(body, dict) or not body.get("next"):
                return found
            page += 1

    def project(self, project_id: int) -> dict:
        """Return one project with its task and annotation counts."""
        return self._call("GET", f"/api/projects/{project_id}/")  # type: ignore[return-value]

    def create_project(self, **fields: object) -> dict:
        """Create a project; return it."""
        return self._call("POST", "/api/projects/", json=fields)  # type: ignore[return-value]

    def update_project(self, project_id: int, **fields: object) -> dict:
        """Change a project's settings; return it."""
        return self._call("PATCH", f"/api/projects/{project_id}/", json=fields)  # type: ignore[return-value]

    def delete_project(self, project_id: int) -> None:
        """Delete a project and its tasks."""
        self._call("DELETE", f"/api/projects/{project_id}/")

    def import_tasks(self, project_id: int, tasks: list[dict]) -> list[int]:
        """Import tasks in one request (one transaction on the server); return their ids in order."""
        body = self._call("POST", f"/api/projects/{project_id}/import", params={"return_task_ids": "true"},
                          content=json.dumps(tasks, ensure_ascii=False).encode("utf-8"),
                          headers={"Content-Type": "application/json"})
        return [int(t) for t in (body or {}).get("task_ids") or []]  # type: ignore[union-attr]

    def export_json(self, project_id: int, timeout: float = 900.0) -> list[dict]:
        """Return the project's tasks with their annotations from one JSON export request (annotated tasks only)."""
        return self._call("GET", f"/api/projects/{project_id}/export",  # type: ignore[return-value]
                          params={"exportType": "JSON", "download_all_tasks": "false"}, timeout=timeout)

    def tasks(self, project_id: int, include: str, query: str | None = None, page_size: int = 1000,
              fields: str | None = None) -> Iterator[dict]:
        """Yield the project's tasks (trimmed to the `include` fields), page by page."""
        params: dict[str, object] = {"project": project_id, "include": include, "page_size": page_size}
        if query is not None:
            params["query"] = query
        if fields is not None:
            params["fields"] = fields
        seen, page = 0, 1
        while True:
            try:
                body = self._call("GET", "/api/tasks/", params={**params, "page": page})
            except LabelStudioHTTPError as exc:
                if exc.status_code == 404 and page > 1:  # Label Studio answers 404 past the last page
                    return
                raise
            batch = body.get("tasks") or []  # type: ignore[union-attr]
            yield from batch
            seen += len(batch)
            total = body.get("total")  # type: ignore[union-attr]
            if not batch or len(batch) < page_size or (total is not None and seen >= total):
                return
            page += 1

    def count_tasks(self, project_id: int, query: str) -> int:
        """Return how many of the project's tasks a data-manager query selects (one request for one task id)."""
        body = self._call("GET", "/api/tasks/", params={"project": project_id, "include": "id", "page_size": 1, "query": query})
        return int(body.get("total") or 0)  # type: ignore[union-attr]

    def delete_task(self, task_id: int) -> None:
        """Delete one task."""
        self._call("DELETE", f"/api/tasks/{task_id}/")

    def update_task(self, task_id: int, **fields: object) -> dict:
        """Change one task (e.g. its overlap)."""
        return self._call("PATCH", f"/api/tasks/{task_id}/", json=fields)  # type: ignore[return-value]


def _token_file_candidates() -> list[Path]:
    data_dir = os.environ.get("YULIAO_LS_DATA_DIR")
    dirs = [Path(data_dir)] if data_dir else []
    dirs += [Path.cwd() / ".yuliao" / "label-studio", REPO_ROOT / ".yuliao" / "label-studio"]
    return [d / "token" for d in dirs]


def server_settings(url: str | None = None, token: str | None = None) -> ServerSettings:
    """Resolve URL and token: arguments, then YULIAO_LS_URL/YULIAO_LS_TOKEN, then the local server's token file."""
    url = url or os.environ.get("YULIAO_LS_URL") or f"http://127.0.0.1:{os.environ.get('YULIAO_LS_PORT', DEFAULT_PORT)}"
    token = token or os.environ.get("YULIAO_LS_TOKEN")
    if not token:
        for candidate in _token_file_candidates():
            if candidate.is_file():
                token = candidate.read_text().strip()
                break
    if not token:
        raise LabelStudioUnavailable(
            "no Label Studio API token: set YULIAO_LS_TOKEN (and YULIAO_LS_URL for a remote server), "
            "or start the local one with 'bash scripts/label_studio.sh start'"
        )
    return ServerSettings(url=url.rstrip("/"), token=token)


def connect_api(settings: ServerSettings, timeout: float = 300.0) -> LabelStudioAPI:
    """Return yuliao's REST client after checking that the server answers and accepts the token."""
    try:
        api = LabelStudioAPI(settings, timeout=timeout)
        api.whoami()
    except httpx.TransportError as exc:
        raise LabelStudioUnavailable(
            f"Label Studio at {settings.url} does not answer ({exc.__class__.__name__}); "
            "start it with 'bash scripts/label_studio.sh start' or set YULIAO_LS_URL"
        ) from None
    except LabelStudioHTTPError as exc:
        if exc.status_code in (401, 403):
            raise LabelStudioUnavailable(f"Label Studio at {settings.url} rejected the API token ({exc.status_code}); "
                                         "check YULIAO_LS_TOKEN") from None
        raise
    return api


def connect(settings: ServerSettings, timeout: float = 300.0):  # noqa: ANN201 - label_studio_sdk.LabelStudio, imported lazily
    """Return a label_studio_sdk client (for scripts and tests that need the whole SDK) after checking the server.

    yuliao's own commands use `connect_api` (no SDK import).
    """
    from label_studio_sdk import LabelStudio

    connect_api(settings, timeout).close()
    return LabelStudio(base_url=settings.url, api_key=settings.token, timeout=timeout)


@contextmanager
def label_studio_errors(settings: ServerSettings, doing: str, then: str) -> Iterator[None]:
    """Turn a server that stops answering (or refuses us) while `doing` into one LabelStudioUnavailable naming `then`."""
    try:
        yield
    except httpx.TransportError as exc:
        raise LabelStudioUnavailable(
            f"Label Studio at {settings.url} stopped answering while {doing} ({exc.__class__.__name__}); {then}") from None
    except LabelStudioHTTPError as exc:
        if exc.status_code in (401, 403) or exc.status_code >= 500:
            raise LabelStudioUnavailable(
                f"Label Studio at {settings.url} answered HTTP {exc.status_code} while {doing}; {then}") from None
        raise


def sign_up_annotator(ls: object, settings: ServerSettings, email: str, password: str) -> str:
    """Create a real log-in account through the organisation's invite link and return its personal access token.

    What an annotator does in the browser (sign-up form, then "Access token"), scripted for
    onboarding many annotators and for tests. A personal access token can be minted once per user.
    `ls` may be a LabelStudioAPI or an SDK client; the invite link is read with `settings`' token either way.
    """
    api = ls if isinstance(ls, LabelStudioAPI) else LabelStudioAPI(settings)
    invite_token = api.invite_token()
    with httpx.Client(base_url=settings.url, follow_redirects=False, timeout=60) as web:
        web.get(f"/user/signup/?token={invite_token}")
        form = {"email": email, "password": password, "csrfmiddlewaretoken": web.cookies.get("csrftoken", "")}
        signup = web.post(f"/user/signup/?token={invite_token}", data=form, headers={"Referer": f"{settings.url}/user/signup/"})
        if signup.status_code != 302:
            raise RuntimeError(f"sign-up of {email} failed ({signup.status_code}): the form answered instead of redirecting")
        minted = web.post("/api/token/", headers={"X-CSRFToken": web.cookies.get("csrftoken", ""), "Referer": f"{settings.url}/"})
        if minted.status_code != 201:
            raise RuntimeError(f"minting a token for {email} failed ({minted.status_code}): {minted.text[:200]}")
        return minted.json()["token"]


DEFAULT_ANNOTATOR_DIR = Path(".yuliao") / "annotators"


@dataclass(frozen=True)
class AnnotatorAccount:
    """An annotator's log-in account and where its secrets were written (never printed)."""

    email: str
    created: bool  # False: the token file was already there, nothing was asked of the server
    token_path: Path
    password_path: Path


def _write_secret(path: Path, value: str) -> None:
    """Write a secret readable by its owner only (created 0600, never world-readable even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")


def add_annotator(ls: LabelStudioAPI, settings: ServerSettings, email: str, out_dir: Path = DEFAULT_ANNOTATOR_DIR) -> AnnotatorAccount:
    """Sign an annotator up through the invite link with a generated password; keep password and token in `out_dir`.

    Idempotent: an email whose token file exists is left alone. An email the server already knows
    but we hold no token for is refused (its token can be minted only once, by its owner).
    """
    import secrets

    email = email.strip()
    if email.count("@") != 1 or email.startswith(("@", ".")) or email.endswith("@") or "/" in email or any(c.isspace() for c in email):
        raise ValueError(f"{email!r} is not an email address")
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)
    token_path, password_path = out_dir / f"{email}.token", out_dir / f"{email}.password"
    if token_path.is_file() and token_path.read_text(encoding="utf-8").strip():
        return AnnotatorAccount(email, False, token_path, password_path)
    if email.lower() in {e.lower() for e in users_by_id(ls).values()}:
        raise ValueError(f"{email} already has an account on {settings.url} and no token in {out_dir}; "
                         "they can log in and copy their token from Account & Settings")
    password = secrets.token_urlsafe(12)
    _write_secret(password_path, password)  # first, so that an account is never created with an unknown password
    _write_secret(token_path, sign_up_annotator(ls, settings, email, password))
    return AnnotatorAccount(email, True, token_path, password_path)


def find_project(ls: LabelStudioAPI, title: str) -> int | None:
    """Return the id of the project with exactly this title (lowest id if several), or None."""
    ids = [int(p["id"]) for p in ls.projects_titled(title) if p["title"] == title]
    return min(ids) if ids else None


# What keeps annotators independent where Label Studio Community lets a project setting decide
# (checked against label-studio 1.23.2; docs/annotation.md lists what Community cannot hide).
INDEPENDENCE_SETTINGS: dict = {
    "overlap_cohort_percentage": 100,  # every task gets K annotations, not only a cohort
    "show_overlap_first": True,  # the stream serves tasks still short of K first
    "sampling": "Uniform sampling",  # each annotator's stream runs in its own random order, not in lockstep
    "show_annotation_history": False,  # no edit history of an annotation in the labeling view
    "enable_empty_annotation": False,  # a submit must answer the required question
    "show_skip_button": True,
    "show_instruction": True,  # the guidelines open before the first task and stay one click away
}


def guidelines_html(label_config: str) -> str:
    """Return the config's guideline panel (its Header lines) as the HTML Label Studio shows as instructions."""
    import html
    import xml.etree.ElementTree as ET

    root = ET.fromstring(label_config)
    lines = [h.get("value", "") for panel in root.iter("Panel") for h in panel.iter("Header")]
    return "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)


def project_settings(label_config: str, annotations_per_task: int, show_predictions: bool = True) -> dict:
    """Return the project settings yuliao asks for: K annotations per task, independence, guidelines, predictions."""
    return {**INDEPENDENCE_SETTINGS, "maximum_annotations": annotations_per_task, "expert_instruction": guidelines_html(label_config),
            "show_collab_predictions": show_predictions}


def ensure_project(ls: LabelStudioAPI, title: str, label_config: str, annotations_per_task: int, description: str = "",
                   show_predictions: bool = True) -> tuple[int, bool]:
    """Return (project id, created): find the project by title or create it; either way (re)apply yuliao's settings."""
    if len(title) > TITLE_MAX_CHARS:
        raise ValueError(f"project title {title!r} is longer than Label Studio's {TITLE_MAX_CHARS} characters")
    settings = project_settings(label_config, annotations_per_task, show_predictions)
    existing = find_project(ls, title)
    if existing is not None:
        # One cheap request; keeps projects made before a settings change (or edited in the UI) honest.
        ls.update_project(existing, **settings)
        return existing, False
    project = ls.create_project(title=title, description=description, label_config=label_config, **settings)
    return int(project["id"]), True


# --- the durable mapping ----------------------------------------------------------------------


class MappingStore:
    """SQLite file holding projects, task<->record rows, gold answers and collect watermarks per server."""

    def __init__(self, path: Path, server: str) -> None:
        self.path = path
        self.server = server
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS projects (
              server TEXT NOT NULL, project_id INTEGER NOT NULL, title TEXT NOT NULL, config TEXT NOT NULL,
              annotations_per_task INTEGER NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (server, project_id));
            CREATE TABLE IF NOT EXISTS tasks (
              server TEXT NOT NULL, project_id INTEGER NOT NULL, record_id TEXT NOT NULL, task_id INTEGER NOT NULL,
              kind TEXT NOT NULL, push_id TEXT, pushed_at TEXT NOT NULL, PRIMARY KEY (server, project_id, record_id));
            CREATE UNIQUE INDEX IF NOT EXISTS tasks_by_id ON tasks (server, task_id);
            CREATE TABLE IF NOT EXISTS gold (
              server TEXT NOT NULL, project_id INTEGER NOT NULL, record_id TEXT NOT NULL, answer TEXT NOT NULL,
              PRIMARY KEY (server, project_id, record_id));
            CREATE TABLE IF NOT EXISTS collect_state (
              server TEXT NOT NULL, project_id INTEGER NOT NULL, watermark TEXT, collected_at TEXT NOT NULL,
              PRIMARY KEY (server, project_id));
            """
        )

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> "MappingStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record_project(self, project_id: int, title: str, config: str, annotations_per_task: int) -> None:
        """Remember a project (first write wins)."""
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO projects VALUES (?, ?, ?, ?, ?, ?)",
                (self.server, project_id, title, config, annotations_per_task, _now()),
            )

    def project_info(self, project_id: int) -> dict | None:
        """Return the stored project row as a dict, or None."""
        row = self._db.execute(
            "SELECT title, config, annotations_per_task FROM projects WHERE server=? AND project_id=?", (self.server, project_id)
        ).fetchone()
        return None if row is None else {"title": row[0], "config": row[1], "annotations_per_task": row[2]}

    def projects(self) -> list[dict]:
        """Return all projects known for this server."""
        rows = self._db.execute(
            "SELECT project_id, title, config, annotations_per_task FROM projects WHERE server=? ORDER BY project_id", (self.server,)
        ).fetchall()
        return [{"project_id": r[0], "title": r[1], "config": r[2], "annotations_per_task": r[3]} for r in rows]

    def add_tasks(self, project_id: int, rows: Iterable[tuple[int, str, str]], push_id: str | None) -> None:
        """Record (task id, record id, kind) rows in one transaction."""
        now = _now()
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(self.server, project_id, rec, int(tid), kind, push_id, now) for tid, rec, kind in rows],
            )

    def remove_tasks(self, project_id: int, task_ids: Iterable[int]) -> None:
        """Forget mapping rows whose tasks no longer exist on the server."""
        with self._db:
            self._db.executemany(
                "DELETE FROM tasks WHERE server=? AND project_id=? AND task_id=?", [(self.server, project_id, int(t)) for t in task_ids]
            )

    def tasks(self, project_id: int) -> dict[str, tuple[int, str]]:
        """Return record id -> (task id, kind) for a project."""
        rows = self._db.execute("SELECT record_id, task_id, kind FROM tasks WHERE server=? AND project_id=?", (self.server, project_id))
        return {r[0]: (r[1], r[2]) for r in rows}

    def set_gold(self, project_id: int, answers: dict[str, str]) -> None:
        """Store the known answers of gold records (never sent to the server)."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO gold VALUES (?, ?, ?, ?)", [(self.server, project_id, r, a) for r, a in answers.items()]
            )

    def gold(self, project_id: int) -> dict[str, str]:
        """Return record id -> known answer for the project's gold records."""
        rows = self._db.execute("SELECT record_id, answer FROM gold WHERE server=? AND project_id=?", (self.server, project_id))
        return dict(rows.fetchall())

    def watermark(self, project_id: int) -> datetime | None:
        """Return the newest task update time seen by the last collect."""
        row = self._db.execute(
            "SELECT watermark FROM collect_state WHERE server=? AND project_id=?", (self.server, project_id)
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def set_watermark(self, project_id: int, watermark: datetime | None) -> None:
        """Record the newest task update time a collect has stored."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO collect_state VALUES (?, ?, ?, ?)",
                (self.server, project_id, watermark.isoformat() if watermark else None, _now()),
            )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


# --- push ---------------------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    """What reconciling the local map with the server changed."""

    server_tasks: int = 0
    adopted: int = 0  # on the server, missing locally (imported, then the client died): now mapped
    forgotten: int = 0  # mapped locally, gone from the server: will be pushed again
    duplicates_deleted: int = 0  # extra unannotated server copies of one record
    duplicates_kept: int = 0  # extra copies that already carry annotations (left for a human)


@dataclass
class PushReport:
    """Outcome of one push: what was already there, what was added, how many batches."""

    project_id: int
    requested: int
    already_present: int
    imported: int
    batches: int
    reconcile: ReconcileReport
    task_ids: list[int] = field(default_factory=list)


def list_server_tasks(ls: LabelStudioAPI, project_id: int, page_size: int = 1000) -> Iterator[tuple[int, str | None, int]]:
    """Yield (task id, record id from data, number of annotations) for every task of the project."""
    for task in ls.tasks(project_id, include="id,data,total_annotations", page_size=page_size):
        data = task.get("data") or {}
        yield int(task["id"]), (str(data[RECORD_KEY]) if RECORD_KEY in data else None), int(task.get("total_annotations") or 0)


def reconcile(ls: LabelStudioAPI, store: MappingStore, project_id: int, force: bool = False) -> ReconcileReport:
    """Make the local map equal the server's tasks (cheap no-op when the counts already agree, unless `force`)."""
    report = ReconcileReport()
    local = store.tasks(project_id)
    server_count = int(ls.project(project_id).get("task_number") or 0)
    report.server_tasks = server_count
    if not force and server_count == len(local):
        return report
    by_record: dict[str, list[tuple[int, int]]] = {}
    for task_id, record_id, n_annotations in list_server_tasks(ls, project_id):
        if record_id is not None:
            by_record.setdefault(record_id, []).append((task_id, n_annotations))
    on_server = {t for copies in by_record.values() for t, _ in copies}
    local_task_ids = {tid: rec for rec, (tid, _) in local.items()}
    gone = [tid for tid in local_task_ids if tid not in on_server]
    store.remove_tasks(project_id, gone)
    report.forgotten = len(gone)
    gold = store.gold(project_id)
    adopt: list[tuple[int, str, str]] = []
    for record_id, copies in by_record.items():
        mapped = local.get(record_id)
        keep = mapped[0] if mapped and mapped[0] in on_server else min(copies)[0]
        if not (mapped and mapped[0] == keep):
            adopt.append((keep, record_id, "gold" if record_id in gold else "record"))
        for task_id, n_annotations in copies:
            if task_id == keep:
                continue
            if n_annotations == 0:
                ls.delete_task(task_id)
                report.duplicates_deleted += 1
            else:
                report.duplicates_kept += 1
    store.add_tasks(project_id, adopt, push_id="reconciled")
    report.adopted = len(adopt)
    return report


def push_tasks(
    ls: LabelStudioAPI, store: MappingStore, project_id: int, tasks: list[dict], kinds: dict[str, str], push_id: str,
    batch_size: int = 5000, on_batch: Callable[[int, int], None] | None = None,
) -> PushReport:
    """Import the tasks whose record is not in the project yet, in batches; each batch is mapped as soon as it lands.

    `tasks` are Label Studio task dicts whose ``data`` carries ``yuliao_id``; `kinds` maps record id
    to "record" or "gold"; `on_batch(done, total)` is called after each batch is recorded.
    """
    rec = reconcile(ls, store, project_id)
    present = store.tasks(project_id)
    todo: list[dict] = []
    seen: set[str] = set()
    for task in tasks:
        record_id = str(task["data"][RECORD_KEY])
        if record_id in present or record_id in seen:
            continue
        seen.add(record_id)
        todo.append(task)
    report = PushReport(project_id, len(tasks), len(tasks) - len(todo), 0, 0, rec)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        # No blind client retries: a retried POST whose first attempt landed would duplicate the
        # batch. A failed batch surfaces; the next push reconciles and resumes.
        ids = ls.import_tasks(project_id, batch)
        if len(ids) != len(batch):
            raise RuntimeError(f"Label Studio returned {len(ids)} task ids for a batch of {len(batch)}; rerun push to reconcile")
        store.add_tasks(project_id, [(tid, str(t["data"][RECORD_KEY]), kinds.get(str(t["data"][RECORD_KEY]), "record"))
                                     for tid, t in zip(ids, batch)], push_id)
        report.imported += len(batch)
        report.batches += 1
        report.task_ids.extend(ids)
        if on_batch is not None:
            on_batch(report.imported, len(todo))
    return report


def utf16_offsets(text: str, start: int, end: int) -> tuple[int, int]:
    """Convert code-point offsets to the UTF-16 code units Label Studio's browser side counts."""
    if text.isascii() or all(ord(c) < 0x10000 for c in text[:end]):
        return start, end
    units = lambda s: sum(2 if ord(c) >= 0x10000 else 1 for c in s)  # noqa: E731
    return units(text[:start]), units(text[:end])


def span_prediction_regions(text: str, spans: list[dict], from_name: str, to_name: str = "text") -> list[dict]:
    """Turn yuliao pii_spans (type, start, end in code points) into Label Studio labels regions."""
    regions = []
    for i, span in enumerate(spans):
        start, end = int(span["start"]), int(span["end"])
        if not (0 <= start < end <= len(text)):
            continue  # a span that does not fit the text it is shown with would mislead the annotator
        u_start, u_end = utf16_offsets(text, start, end)
        regions.append({
            "id": f"pii{i}", "from_name": from_name, "to_name": to_name, "type": "labels",
            "value": {"start": u_start, "end": u_end, "text": text[start:end], "labels": [str(span.get("type") or span.get("label"))]},
        })
    return regions


# --- collect -------------------------------------------------------------------------------------


def _as_datetime(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def users_by_id(ls: LabelStudioAPI) -> dict[int, str]:
    """Return user id -> email for everyone the token can see."""
    return {int(u["id"]): (u.get("email") or u.get("username") or str(u["id"])) for u in ls.users()}


def annotation_rows(tasks: Iterable[dict], project_id: int, users: dict[int, str]) -> tuple[list[dict], datetime | None]:
    """Return (one row per annotation of the tasks, newest task update seen); tasks as Label Studio's JSON shapes them."""
    rows: list[dict] = []
    newest = None
    for task in tasks:
        updated = _as_datetime(task.get("updated_at"))
        if updated is not None and (newest is None or updated > newest):
            newest = updated
        record_id = (task.get("data") or {}).get(RECORD_KEY)
        for ann in task.get("annotations") or []:
            completed_by = ann.get("completed_by")
            annotator_id = int(completed_by["id"] if isinstance(completed_by, dict) else completed_by) if completed_by is not None else None
            rows.append({
                "project_id": project_id,
                "annotation_id": int(ann["id"]),
                "task_id": int(task["id"]),
                "record_id": None if record_id is None else str(record_id),
                "annotator_id": annotator_id,
                "annotator": users.get(annotator_id, str(annotator_id)) if annotator_id is not None else None,
                "result": json.dumps(ann.get("result") or [], ensure_ascii=False, sort_keys=True),
                "was_cancelled": bool(ann.get("was_cancelled") or False),
                "ground_truth": bool(ann.get("ground_truth") or False),
                "lead_time": float(ann["lead_time"]) if ann.get("lead_time") is not None else None,
                "created_at": _as_datetime(ann.get("created_at")),
                "updated_at": _as_datetime(ann.get("updated_at")),
            })
    return rows, newest


def export_annotations(ls: LabelStudioAPI, project_id: int, timeout_s: float = 900.0) -> tuple[list[dict], datetime | None]:
    """Return (every annotation of the project, newest task update) from one JSON export request (Label Studio's own, fastest path).

    Community's synchronous export; where a server refuses it (Enterprise answers 404) the caller
    falls back to `fetch_annotations`.
    """
    users = users_by_id(ls)
    return annotation_rows(ls.export_json(project_id, timeout=timeout_s), project_id, users)


def updated_after_query(after: datetime) -> str:
    """Return a data-manager query selecting the tasks updated after `after`."""
    value = after.astimezone(timezone.utc).strftime(LS_TIME_FORMAT)
    return json.dumps({"filters": {"conjunction": "and", "items": [
        {"filter": "filter:tasks:updated_at", "operator": "greater", "type": "Datetime", "value": value}]}})


def tasks_updated_since(ls: LabelStudioAPI, project_id: int, since: datetime | None, overlap: timedelta = WATERMARK_OVERLAP) -> int | None:
    """Return how many of the project's tasks changed after `since` minus `overlap` (one small request), None without a `since`.

    Saving an annotation updates its task, so 0 means no annotation was added or edited since then.
    """
    if since is None:
        return None
    return ls.count_tasks(project_id, updated_after_query(since - overlap))


def fetch_annotations(
    ls: LabelStudioAPI, project_id: int, since: datetime | None, page_size: int = 500, overlap: timedelta = WATERMARK_OVERLAP,
) -> tuple[list[dict], datetime | None]:
    """Return (annotation rows of tasks updated after `since` minus `overlap`, newest task update seen)."""
    query = updated_after_query(since - overlap) if since is not None else None
    users = users_by_id(ls)
    # Trimming the task serializer to what we read is ~3-10x faster than the full payload.
    tasks = ls.tasks(project_id, include=TASK_FETCH_FIELDS, query=query, page_size=page_size, fields="all")
    rows, newest = annotation_rows(tasks, project_id, users)
    newest = max((x for x in (newest, since) if x is not None), default=None)
    return rows, newest


def request_more_annotations(ls: LabelStudioAPI, task_ids: Iterable[int], current: dict[int, int], extra: int = 1) -> int:
    """Send tasks back for adjudication: raise each task's overlap so Label Studio hands it to `extra` more annotators."""
    n = 0
    for task_id in task_ids:
        ls.update_task(int(task_id), overlap=int(current.get(int(task_id), 0)) + extra)
        n += 1
    return n
