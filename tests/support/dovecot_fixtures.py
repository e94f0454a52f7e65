"""A real IMAP server for the mailbox tests: Debian's Dovecot (dovecot-imapd, installed by scripts/setup),
started once per session on a free port with a throwaway configuration, one passwd-file user per test.

Dovecot refuses to keep mail as root (DESIGN Decision 22): as root, mail belongs to `nobody`; otherwise
to whoever runs the tests. Import with `from dovecot_fixtures import dovecot, imap_user  # noqa: F401`.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient

DOVECOT = "/usr/sbin/dovecot"
USERS = 40  # one per mailbox test, written once

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
{users_line}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
"""


@dataclass
class ImapUser:
    name: str
    password: str
    host: str
    port: int
    home: Path

    def url(self, folder: str = "INBOX") -> str:
        return f"imap://{self.name}@{self.host}:{self.port}/{folder}"

    def client(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(self.name, self.password)
        return client

    def folder(self, name: str) -> list[bytes]:
        """The raw messages in a folder, oldest first ([] when the folder does not exist)."""
        with self.client() as client:
            if not client.folder_exists(name):
                return []
            client.select_folder(name, readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [fetched[uid][b"BODY[]"] for uid in sorted(fetched)]

    def has_folder(self, name: str) -> bool:
        with self.client() as client:
            return client.folder_exists(name)

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.client() as client:
            client.append(folder, raw)


@dataclass
class Dovecot:
    root: Path
    port: int
    users: list[ImapUser]
    host: str = "127.0.0.1"

    def new_user(self) -> ImapUser:
        """A user of their own, so each test starts with an empty mailbox. All are written before Dovecot
        starts: it notices a changed passwd-file by its mtime, which two writes in one second do not change."""
        return self.users.pop()


def _users(root: Path, uid: int, gid: int, port: int) -> list[ImapUser]:
    users = []
    for _ in range(USERS):
        name, password = f"support-{uuid.uuid4().hex[:8]}", secrets.token_hex(8)
        home = root / "mail" / name
        home.mkdir(parents=True)
        os.chown(home, uid, gid)
        users.append(ImapUser(name, password, "127.0.0.1", port, home))
    lines = [f"{u.name}:{{PLAIN}}{u.password}:{uid}:{gid}::{u.home}::" for u in users]
    (root / "users").write_text("\n".join(lines) + "\n")
    (root / "users").chmod(0o644)
    return users


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    assert os.access(DOVECOT, os.X_OK), f"{DOVECOT} is missing: scripts/setup installs Debian's dovecot-imapd"
    # Not under pytest's 0700 temp dirs: Dovecot's own unprivileged processes must reach their files.
    root = Path(tempfile.mkdtemp(prefix="supportflow-dovecot-"))
    root.chmod(0o755)
    if os.getuid() == 0:
        mail_user = pwd.getpwnam("nobody")
        users_line = ""
    else:  # an unprivileged run: Dovecot's internal and login users are whoever runs the tests
        mail_user = pwd.getpwuid(os.getuid())
        users_line = f"default_internal_user = {mail_user.pw_name}\ndefault_login_user = {mail_user.pw_name}"
    for folder in ("run", "state", "mail"):
        (root / folder).mkdir()
    (root / "mail").chmod(0o755)
    port = free_port()
    users = _users(root, mail_user.pw_uid, mail_user.pw_gid, port)
    (root / "dovecot.conf").write_text(CONFIG.format(root=root, port=port, users_line=users_line))
    server = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        _wait_until_listening(port, server, root)
        yield Dovecot(root, port, users)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap_user(dovecot: Dovecot) -> ImapUser:
    return dovecot.new_user()


def _wait_until_listening(port: int, server: subprocess.Popen, root: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read().decode(errors="replace") if server.stdout else ""
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited with {server.returncode}: {output} {log}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"dovecot did not listen on 127.0.0.1:{port} within 20 s")
