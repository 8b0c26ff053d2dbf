"""A real authgate for the tests: the binary, on a free port, over SQLite in a temp dir."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]


def _binary() -> str:
    path = os.environ.get("AUTHGATE_BIN") or str(
        Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "authgate"
    )
    if not Path(path).exists():
        pytest.exit(f"no authgate binary at {path}: run `cargo build` or set AUTHGATE_BIN", 2)
    return path


class Authgate:
    """The running server, and the CLI on its database."""

    def __init__(self, data_dir: Path) -> None:
        self.bin = _binary()
        self.dir = data_dir
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "AUTHGATE_DATA_DIR": str(data_dir),
            "AUTHGATE_LOGIN_RATE_LIMIT": "off",
            "AUTHGATE_REGISTER_RATE_LIMIT": "off",
            "AUTHGATE_REFRESH_RATE_LIMIT": "off",
            "AUTHGATE_LOCKOUT_THRESHOLD": "0",
            # What seed 004's code reads (`payload.get("email")`).
            "AUTHGATE_TOKEN_CLAIMS": "email,username",
        }
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def cli(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run(
            [self.bin, *args], env=self.env, cwd=self.dir, input=stdin,
            capture_output=True, text=True, timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def serve(self) -> None:
        self.proc = subprocess.Popen(
            [self.bin, "serve", "--bind", "127.0.0.1:0"], env=self.env, cwd=self.dir,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        first = self.proc.stdout.readline().strip()
        prefix = "authgate listening on "
        assert first.startswith(prefix), first
        self.url = first[len(prefix):]

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def user(self, *, admin: bool = False) -> tuple[str, str]:
        """A new account (an admin through the CLI) and its access token."""
        tag = uuid.uuid4().hex[:12]
        email, password, username = f"u{tag}@example.com", f"pw-{tag}-{tag}", f"u_{tag}"
        if admin:
            self.cli("user", "create", "--email", email, "--username", username,
                     "--role", "admin", "--password-stdin", stdin=password + "\n")
        else:
            r = httpx.post(f"{self.url}/auth/register",
                           json={"email": email, "password": password, "username": username})
            assert r.status_code == 201, r.text
        r = httpx.post(f"{self.url}/auth/login", json={"username": email, "password": password})
        assert r.status_code == 200, r.text
        return email, r.json()["access_token"]


@pytest.fixture(scope="session")
def authgate(tmp_path_factory) -> Authgate:
    server = Authgate(tmp_path_factory.mktemp("authgate"))
    server.cli("migrate")
    server.serve()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def credential(authgate: Authgate) -> str:
    """A verifier credential, as `authgate verifier create` prints it."""
    return authgate.cli("verifier", "create", "tests")
