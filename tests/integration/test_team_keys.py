"""`--api-keys FILE`: a team's keys, exactly those accepted on fal's routes, each billed on its
own ledger row; a file the emulator cannot use stops `serve` with exit 2 naming its line."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mockserver import cli
from mockserver.fal.auth import KeyFileError, load_key_file
from mockserver.serving.background import BackgroundEmulator
from tests.reliability.serveproc import start_serve
from tests.support import make_config, wait_until

T2V = "fal-ai/luma-dream-machine/ray-2"
ALICE = "alice:alice-secret-0001"
BOB = "bob:bob-secret-0002"
OUTSIDER = "carol:carol-secret-0003"
KEY_FILE = f"""# the video team
{ALICE}

   {BOB}   # CI uses this one
"""


def key_file(tmp_path: Path, text: str = KEY_FILE) -> Path:
    path = tmp_path / "keys.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_two_keys_from_a_file_are_accepted_a_third_refused_and_the_ledger_bills_each(
    tmp_path: Path,
) -> None:
    served = start_serve(
        tmp_path / "state", "--timing", "instant", "--api-keys", str(key_file(tmp_path))
    )
    try:
        base = served.url
        for key, runs in ((ALICE, 2), (BOB, 1)):
            for n in range(runs):
                result = httpx.post(
                    f"{base}/run/{T2V}",
                    json={"prompt": f"run {n} of {key[:3]}"},
                    headers={"Authorization": f"Key {key}"},
                    timeout=60,
                )
                assert result.status_code == 200, result.text
        refused = httpx.post(
            f"{base}/{T2V}", json={"prompt": "x"}, headers={"Authorization": f"Key {OUTSIDER}"}
        )
        assert refused.status_code == 401
        assert refused.json() == {"detail": "No user found for Key ID and Secret"}  # fal's 401
        bearer = httpx.post(
            f"{base}/{T2V}", json={"prompt": "x"}, headers={"Authorization": "Bearer user-token"}
        )
        assert bearer.status_code == 401  # a fixed set of keys: fal's user tokens do not pass
        ledger = httpx.get(f"{base}/_mock/ledger").json()
        rows = {row["key_id"]: row for row in ledger["keys"]}
        assert set(rows) == {"alice", "bob"}  # the refused calls billed nobody
        assert rows["alice"]["key"] == "Key ****0001" and rows["bob"]["key"] == "Key ****0002"
        assert (rows["alice"]["billed_requests"], rows["alice"]["units"]) == (2, 2)
        assert (rows["bob"]["billed_requests"], rows["bob"]["units"]) == (1, 1)
        assert ledger["total_units"] == 3
        assert "alice-secret" not in str(ledger) and "bob-secret" not in str(ledger)
    finally:
        assert served.stop() == 0


def test_a_key_that_has_spent_nothing_still_has_its_row(tmp_path: Path) -> None:
    config = make_config(tmp_path, api_keys=(ALICE, BOB), api_key="solo:solo-secret-9")
    with BackgroundEmulator(config) as running:
        rows = httpx.get(f"{running.url}/_mock/ledger").json()["keys"]
        assert [(r["key_id"], r["key"], r["billed_requests"]) for r in rows] == [
            ("alice", "Key ****0001", 0),
            ("bob", "Key ****0002", 0),
            ("solo", "Key ****et-9", 0),
        ]
        for key in (ALICE, BOB, "solo:solo-secret-9"):  # --api-key is accepted beside the file
            auth = {"Authorization": f"Key {key}"}
            ok = httpx.post(f"{running.url}/{T2V}", json={"prompt": "x"}, headers=auth)
            assert ok.status_code == 200, key


def test_the_browser_proxy_bills_a_keyless_page_to_the_team_s_first_key(tmp_path: Path) -> None:
    config = make_config(tmp_path, api_keys=(ALICE, BOB))
    assert config.own_key == ALICE  # what the fixture's client uses when FAL_KEY is unset too
    with BackgroundEmulator(config) as running:
        proxied = httpx.post(
            f"{running.url}/api/fal/proxy",
            json={"prompt": "from a page"},
            headers={"x-fal-target-url": f"https://queue.fal.run/{T2V}"},
        )
        assert proxied.status_code == 200, proxied.text

        def alice_billed() -> bool:
            rows = httpx.get(f"{running.url}/_mock/ledger").json()["keys"]
            return any(r["key_id"] == "alice" and r["billed_requests"] == 1 for r in rows)

        wait_until(alice_billed, what="the proxied request billed to alice")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (f"{ALICE}\nno-colon-here\n", 2, "not a fal key"),
        (f"# team\n\n{ALICE}\nbob: spaced secret\n", 4, "not a fal key"),
        (f"{ALICE}\n:no-id\n", 2, "not a fal key"),
        (f"{ALICE}\n{BOB}\nalice:another-secret-xx\n", 3, "key id 'alice' already on line 1"),
        (f"{ALICE}\ndave:zzzz-0001\n", 2, "same four characters as line 1"),
    ],
)
def test_a_bad_key_file_exits_2_naming_the_file_and_line(
    tmp_path: Path, text: str, line: int, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = key_file(tmp_path, text)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", "--api-keys", str(path)], {})
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}: " in err and reason in err, err
    for secret in ("alice-secret", "bob-secret", "another-secret", "spaced secret", "zzzz"):
        assert secret not in err  # a refusal never quotes a secret


def test_an_empty_or_missing_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="no key in the file"):
        load_key_file(key_file(tmp_path, "# nobody yet\n\n"))
    with pytest.raises(KeyFileError, match="cannot read the key file"):
        load_key_file(tmp_path / "absent.txt")
    assert load_key_file(key_file(tmp_path)) == (ALICE, BOB)


def test_the_key_file_comes_from_its_variable_too(tmp_path: Path) -> None:
    args, _ = cli.parse_serve(
        cli.parser(), ["serve"], {"RAY2_MOCK_API_KEYS": str(key_file(tmp_path))}
    )
    assert cli.serve_config(args).api_keys == (ALICE, BOB)
