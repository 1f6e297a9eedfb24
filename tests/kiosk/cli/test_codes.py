"""`kiosk codes keygen|issue|verify|bundle`, as the street office and technicians use it."""

from __future__ import annotations

import io
import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from kiosk.cli.main import main
from kiosk.codes import bundle as bundle_mod
from kiosk.codes import keys


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    rc = main(["codes", *argv])
    out, err = capsys.readouterr()
    return rc, out.splitlines(), err


@pytest.fixture
def street(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Root, street (EdDSA, endorsed) and issuer keys, a pseudonym key, and a signed bundle."""
    d = tmp_path
    assert run(capsys, "keygen", "--role", "root", "--out", str(d / "root"))[0] == 0
    rc, out, err = run(capsys, "keygen", "--role", "street", "--alg", "EdDSA", "--out", str(d / "street"),
                       "--root-key", str(d / "root.key"), "--street", "CN-410105-S07")
    assert rc == 0, err
    assert json.loads(out[0])["endorsement"] == str(d / "street.endorsement")
    assert run(capsys, "keygen", "--role", "issuer", "--out", str(d / "issuer"))[0] == 0
    assert run(capsys, "keygen", "--role", "pseudonym", "--out", str(d / "pseudonym"))[0] == 0
    (d / "status.csv").write_text("id_number,colour,as_of\n41010519900101123x,红,2026-05-01\n"
                                  "41010519900101124X,yellow,\n", encoding="utf-8")
    (d / "id.txt").write_text("410105 19900101 123X\n")
    rc, out, err = run(capsys, "bundle", "--street-key", str(d / "street.key"),
                       "--endorsement", str(d / "street.endorsement"), "--out", str(d / "bundle.cbor"),
                       "--issuer", f"{d / 'issuer.pub'},iss=CN-410105-S07,scope=c1+c2",
                       "--status", str(d / "status.csv"), "--pseudonym-key", str(d / "pseudonym.key"),
                       "--revoke-token", "00" * 16, "--seq", "7")
    assert rc == 0, err
    summary = json.loads(out[0])
    assert (summary["seq"], summary["status"], summary["issuers"], summary["revoked_tokens"]) == (7, 2, 1, 1)
    return d


def verify_args(d: Path, *more: str) -> list[str]:
    return ["verify", "--root-key", str(d / "root.pub"), "--bundle", str(d / "bundle.cbor"),
            "--compound", "c1", *more]


def test_private_keys_are_0600_and_never_overwritten(street: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("root.key", "street.key", "issuer.key", "pseudonym.key"):
        assert stat.S_IMODE((street / name).stat().st_mode) == 0o600, name
    before = (street / "root.key").read_bytes()
    rc, _, err = run(capsys, "keygen", "--role", "root", "--out", str(street / "root"))
    assert rc == 1 and "already exists" in err and (street / "root.key").read_bytes() == before


def test_issue_paper_code_from_an_id_file_is_red_from_the_status_list(street: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    png = street / "paper.png"
    rc, out, err = run(capsys, "issue", "--key", str(street / "issuer.key"), "--iss", "CN-410105-S07",
                       "--kind", "paper", "--scope", "c1", "--id-file", str(street / "id.txt"),
                       "--pseudonym-key", str(street / "pseudonym.key"), "--png", str(png))
    assert rc == 0, err
    payload = out[0]
    assert payload.startswith("GK1:") and "123X" not in payload
    page = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    assert page is not None and page.shape == (1748, 1240)                       # A6 at 300 dpi
    rc, out, err = run(capsys, *verify_args(street, payload))
    verdict = json.loads(out[0])
    assert (verdict["reason"], verdict["kind"], verdict["colour"]) == ("red", "paper", "red")
    assert verdict["holder_ref"] == keys.holder_ref(keys.load_pseudonym_key(street / "pseudonym.key"),
                                                    "41010519900101123X").hex()
    rc, out, _ = run(capsys, *verify_args(street, "--image", str(png)))
    image_verdict = json.loads(out[0])
    assert image_verdict["file"] == str(png) and image_verdict["reason"] == "red"


def test_a_chinese_volunteer_badge_is_read_from_its_png_and_a_missing_font_is_one_line(
        street: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    png = street / "badge.png"
    issue = ["issue", "--key", str(street / "issuer.key"), "--iss", "CN-410105-S07", "--kind", "volunteer",
             "--scope", "c1", "--holder-ref", "ab" * 16, "--tz", "Asia/Shanghai", "--png", str(png)]
    rc, out, err = run(capsys, *issue)
    assert rc == 0, err
    rc, out, _ = run(capsys, *verify_args(street, "--image", str(png)))
    verdict = json.loads(out[0])
    assert (verdict["reason"], verdict["kind"]) == ("ok", "volunteer")
    from kiosk.codes import render
    monkeypatch.setattr(render, "CJK_FONT", street / "gone.ttc")
    rc, out, err = run(capsys, *issue[:-1], str(street / "badge2.png"))
    assert rc == 1 and len(err.strip().splitlines()) == 1 and "fonts-noto-cjk" in err
    assert not (street / "badge2.png").exists()


def test_verify_reads_stdin_one_verdict_per_line(street: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    rc, out, _ = run(capsys, "issue", "--key", str(street / "issuer.key"), "--iss", "CN-410105-S07",
                     "--scope", "c1", "--holder-ref", "ab" * 16, "--json")
    issued = json.loads(out[0])
    lines = [issued["payload"], issued["payload"], "hello", "GK1:???", ""] + [issued["payload"]] * 50
    stdin = io.TextIOWrapper(io.BytesIO(("\r\n".join(lines) + "\n").encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    rc, out, err = run(capsys, *verify_args(street, "--mark"))
    assert rc == 0, err
    reasons = [json.loads(line)["reason"] for line in out]
    assert reasons[:4] == ["ok", "replay", "unsupported_format", "decode_error"] and len(reasons) == 54
    assert json.loads(out[0])["token_hash"] == issued["token_hash"]


def test_verify_with_a_kiosk_config(street: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = street / "kiosk.toml"
    cfg.write_text(f'[kiosk]\ncompound = "c2"\nstate_dir = "{street / "state"}"\n'
                   f'[codes]\nroot_key = "root.pub"\nbundle = "bundle.cbor"\n')
    rc, out, _ = run(capsys, "issue", "--key", str(street / "issuer.key"), "--iss", "CN-410105-S07",
                     "--scope", "c2", "--holder-ref", "ab" * 16)
    rc, out, err = run(capsys, "verify", "--config", str(cfg), out[0])
    assert rc == 0, err
    assert json.loads(out[0])["reason"] == "ok"
    assert not (street / "state").exists()       # verify never writes kiosk state


def test_verify_as_of_another_time(street: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "issue", "--key", str(street / "issuer.key"), "--iss", "CN-410105-S07",
                    "--scope", "c1", "--holder-ref", "ab" * 16)
    later = str(int(time.time()) + 600)
    _rc, out, _ = run(capsys, *verify_args(street, out[0], "--now", later))
    assert json.loads(out[0])["reason"] == "expired"


@pytest.mark.parametrize("argv, message", [
    (["issue", "--key", "/nonexistent.key", "--iss", "S", "--scope", "c1", "--holder-ref", "00" * 16],
     "private key /nonexistent.key not found"),
    (["issue", "--key", "{d}/issuer.key", "--iss", "S", "--scope", "c1", "--holder-ref", "xyz"],
     "--holder-ref must be 32 hex digits"),
    (["issue", "--key", "{d}/issuer.key", "--iss", "S", "--scope", "c1", "--holder-ref", "00" * 16,
      "--valid", "3600"], "dynamic codes live at most 120 s"),
    (["verify", "x", "--root-key", "{d}/root.pub", "--bundle", "{d}/status.csv", "--compound", "c1"],
     "refused"),
    (["verify", "x"], "give --config, or all of"),
    (["bundle", "--street-key", "{d}/street.key", "--endorsement", "{d}/street.endorsement", "--out", "{d}/b",
      "--issuer", "{d}/issuer.pub,colour=red"], "unknown option 'colour'"),
    (["bundle", "--street-key", "{d}/issuer.key", "--endorsement", "{d}/street.endorsement", "--out", "{d}/b"],
     "another street key"),
    (["keygen", "--role", "street", "--out", "{d}/s2"], "needs --root-key"),
])
def test_bad_input_is_one_line_on_stderr(street: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                         message: str) -> None:
    rc, _out, err = run(capsys, *[a.replace("{d}", str(street)) for a in argv])
    assert rc == 1 and message in err and len(err.strip().splitlines()) == 1, err


def test_status_csv_errors_name_the_line(street: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (street / "bad.csv").write_text("holder_ref,colour\n" + "00" * 16 + ",green\n" + "00" * 16 + ",purple\n")
    rc, _, err = run(capsys, "bundle", "--street-key", str(street / "street.key"),
                     "--endorsement", str(street / "street.endorsement"), "--out", str(street / "b"),
                     "--status", str(street / "bad.csv"))
    assert rc == 1 and "bad.csv line 3" in err and "purple" in err


def test_bundle_from_the_cli_loads_with_its_policy(street: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "bundle", "--street-key", str(street / "street.key"),
                     "--endorsement", str(street / "street.endorsement"), "--out", str(street / "b2.cbor"),
                     "--stale-action", "volunteer", "--max-age", "600", "--max-validity", "paper=86400",
                     "--revoke-kid", "11" * 8)
    assert rc == 0, err
    b = bundle_mod.load((street / "b2.cbor").read_bytes(), keys.load_public(street / "root.pub"))
    assert (b.policy.stale_action, b.policy.max_age_s, b.policy.max_validity("paper")) == ("volunteer", 600, 86400)
    assert b.revoked_kids == {bytes.fromhex("11" * 8)}


def test_the_installed_command_never_prints_a_traceback(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "kiosk", "codes", "verify", "GK1:X", "--root-key",
                          str(tmp_path / "nope.pub"), "--bundle", "b", "--compound", "c1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip() == f"kiosk codes: public key {tmp_path / 'nope.pub'} not found"


@pytest.mark.parametrize("problem", ["wrong root key", "missing bundle"])
def test_verify_says_what_is_wrong_with_the_trust_material_in_one_line(street: Path, capsys, problem: str) -> None:
    assert run(capsys, "keygen", "--role", "root", "--out", str(street / "other"))[0] == 0
    root = street / ("other.pub" if problem == "wrong root key" else "root.pub")
    bundle = street / ("bundle.cbor" if problem == "wrong root key" else "missing.cbor")
    assert bundle.exists() == (problem == "wrong root key")
    out = subprocess.run([sys.executable, "-m", "kiosk", "codes", "verify", "GK1:X", "--root-key", str(root),
                          "--bundle", str(bundle), "--compound", "c1"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stdout == ""
    assert len(out.stderr.splitlines()) == 1 and out.stderr.startswith("kiosk codes: "), out.stderr


def test_outputs_in_a_directory_that_does_not_exist_are_refused(tmp_path: Path, capsys) -> None:
    """`keygen --out /nonexistent/dir/root` used to create the directories and succeed."""
    missing = tmp_path / "nonexistent" / "dir"
    rc, out, err = run(capsys, "keygen", "--role", "root", "--out", str(missing / "root"))
    assert rc == 1 and out == []
    assert err.strip() == f"kiosk codes: --out {missing / 'root'}: directory {missing} does not exist"
    rc, _, err = run(capsys, "keygen", "--role", "pseudonym", "--out", str(missing / "p"))
    assert rc == 1 and "does not exist" in err
    assert list(tmp_path.iterdir()) == []


def test_a_bundle_carries_the_publicity_schedule_and_a_bad_one_is_one_line(street: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    good = street / "rounds.toml"
    good.write_text('quiet = ["22:00", "07:00"]\n[[notices]]\nid = "masks"\nat = "09:00"\nmax_s = 60\n'
                    'text = "请佩戴口罩，保持一米距离。"\n', encoding="utf-8")
    bad = street / "bad.toml"
    bad.write_text('[[notices]]\nid = "a"\nat = "09:00"\nmax_s = 120\ntext = "x"\n'
                   '[[notices]]\nid = "b"\nat = "09:01"\nclip = "no_such_clip"\n', encoding="utf-8")
    base = ["bundle", "--street-key", str(street / "street.key"), "--endorsement", str(street / "street.endorsement"),
            "--out", str(street / "b2.cbor"), "--seq", "8"]
    rc, out, err = run(capsys, *base, "--publicity", str(good))
    assert rc == 0, err
    assert json.loads(out[0])["notices"] == 1
    b = bundle_mod.load((street / "b2.cbor").read_bytes(), keys.load_public(street / "root.pub"))
    assert b.publicity is not None and b.publicity.notices[0].id == "masks"
    rc, out, err = run(capsys, *base, "--publicity", str(bad))
    assert rc == 1 and out == [] and len(err.strip().splitlines()) == 1 and "not a known clip" in err
