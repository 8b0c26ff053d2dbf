"""A background follower of authgate's revocation feed.

At start it reads every entry in force (``GET /revocations?after=SEQ``, paged), then follows
``GET /revocations/stream`` (Server-Sent Events) from the last ``seq`` it has, reconnecting with
``Last-Event-ID`` whenever the stream ends. Every event and every heartbeat (the stream sends
one every 2 s) marks the copy fresh; ``is_fresh()`` turns false when nothing arrived for longer
than ``max_staleness`` seconds, and the bearer then fails closed (503) unless told otherwise.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

import httpx

log = logging.getLogger("authgate_fastapi")


@dataclass
class _Entries:
    sessions: dict[str, int] = field(default_factory=dict)
    # sub -> (active, roles, until)
    users: dict[str, tuple[bool, list[str], int]] = field(default_factory=dict)


class RevocationFollower:
    """A copy of authgate's revocations, kept current from its feed by a daemon thread."""

    def __init__(self, feed_url: str, credential: str, max_staleness: float = 10.0) -> None:
        self.feed_url = feed_url.rstrip("/")
        self._credential = credential
        self.max_staleness = max(3.0, max_staleness)
        self._entries = _Entries()
        self._lock = threading.Lock()
        self._seq = 0
        self._fresh_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # never the credential
        return f"RevocationFollower({self.feed_url!r})"

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._credential}"}

    def start(self) -> None:
        """Load the entries in force (raises if the feed refuses us), then follow in the background."""
        with httpx.Client(timeout=5.0) as client:
            self._load_pages(client)
        self._thread = threading.Thread(target=self._run, name="authgate-feed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()

    def is_fresh(self) -> bool:
        return time.monotonic() - self._fresh_at <= self.max_staleness

    def session_revoked(self, sid: str, now: int) -> bool:
        with self._lock:
            until = self._entries.sessions.get(sid)
        return until is not None and until > now

    def user_state(self, sub: str, now: int) -> tuple[bool, list[str]] | None:
        """``(active, roles)`` after an admin change still in force, else ``None``."""
        with self._lock:
            state = self._entries.users.get(sub)
        if state is None or state[2] <= now:
            return None
        return state[0], list(state[1])

    # -- following ---------------------------------------------------------------------------

    def _apply(self, entry: dict) -> None:
        with self._lock:
            if entry.get("type") == "session":
                self._entries.sessions[entry["sid"]] = int(entry["until"])
            elif entry.get("type") == "user":
                self._entries.users[entry["sub"]] = (
                    bool(entry["active"]),
                    list(entry["roles"]),
                    int(entry["until"]),
                )
            self._seq = max(self._seq, int(entry["seq"]))

    def _mark_fresh(self) -> None:
        self._fresh_at = time.monotonic()

    def _purge(self) -> None:
        now = int(time.time())
        with self._lock:
            self._entries.sessions = {k: v for k, v in self._entries.sessions.items() if v > now}
            self._entries.users = {k: v for k, v in self._entries.users.items() if v[2] > now}

    def _load_pages(self, client: httpx.Client) -> None:
        while True:
            resp = client.get(self.feed_url, params={"after": self._seq}, headers=self._headers)
            if resp.status_code == 401:
                raise RuntimeError(f"the revocation feed at {self.feed_url} refused the credential")
            resp.raise_for_status()
            page = resp.json()
            for entry in page["items"]:
                self._apply(entry)
            if not page["more"]:
                self._mark_fresh()
                return

    def _run(self) -> None:
        pause = 0.2
        while not self._stop.is_set():
            try:
                self._stream_once()
                pause = 0.2
            except Exception as e:  # noqa: BLE001 - any failure means: reconnect
                log.warning("revocation feed interrupted (%s); reconnecting", type(e).__name__)
                pause = min(pause * 2, 2.0)
            self._stop.wait(pause)

    def _stream_once(self) -> None:
        # Heartbeats come every 2 s: a read silent for 6 s means a dead connection.
        timeout = httpx.Timeout(connect=5.0, read=6.0, write=5.0, pool=5.0)
        headers = {**self._headers, "Accept": "text/event-stream", "Last-Event-ID": str(self._seq)}
        with httpx.Client(timeout=timeout) as client:
            with client.stream("GET", f"{self.feed_url}/stream", headers=headers) as resp:
                resp.raise_for_status()
                event, data = "message", []
                for line in resp.iter_lines():
                    if self._stop.is_set():
                        return
                    if line == "":
                        self._dispatch(event, "".join(data))
                        event, data = "message", []
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].removeprefix(" "))

    def _dispatch(self, event: str, data: str) -> None:
        if event in ("session", "user"):
            self._apply(json.loads(data))
            self._mark_fresh()
        elif event == "heartbeat":
            self._mark_fresh()
            self._purge()
