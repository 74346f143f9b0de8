"""`cds-service replay` against a real server: an all-pass table, and a readable diff when not."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import responses

from cds_service.cli import main
from tests.harness.conftest import EXPECTED, write_json

pytestmark = pytest.mark.integration
AUTH_DIR = Path(__file__).resolve().parent.parent / "auth"
REPO = Path(__file__).resolve().parents[2]
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"


def replay(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["replay", *argv])
    return code, capsys.readouterr().out


def table_rows(output: str) -> dict[str, list[str]]:
    """The table's rows by request name (the diffs below the table are left out)."""
    table = output.split("\n\n", 1)[0]
    return {
        line.split()[0]: line.split() for line in table.splitlines() if line.startswith("scenario-")
    }


def test_replay_against_a_running_service_prints_an_all_pass_table(
    serve: Callable[..., str], hooks_dir: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = replay(capsys, str(hooks_dir), "--base", serve(), "--golden", str(golden_dir))
    assert code == 0, out
    assert out.splitlines()[0].split() == ["request", "status", "cards", "verdict", "latency", "ms"]
    rows = table_rows(out)
    assert sorted(rows) == sorted(f"{stem}.json" for stem in EXPECTED)
    for name, row in rows.items():
        expected_cards = len(EXPECTED[name.removesuffix(".json")]["cards"])
        assert row[1:4] == ["200", str(expected_cards), "PASS"]
        assert float(row[4]) > 0
    assert "3 of 3 passed" in out


def test_a_broken_golden_file_fails_with_a_readable_diff(
    serve: Callable[..., str], hooks_dir: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = json.loads((golden_dir / "scenario-1-order-sign.json").read_text())
    broken["cards"][0]["indicator"] = "warning"
    broken["cards"][0]["suggestions"] = [["2267582"]]
    broken["cards"][0]["override_reasons"] = []
    broken["why"] = "Deliberately wrong: a warning offering T-DXd only."
    write_json(golden_dir / "scenario-1-order-sign.json", broken)

    code, out = replay(capsys, str(hooks_dir), "--base", serve(), "--golden", str(golden_dir))

    assert code == 1
    assert table_rows(out)["scenario-1-order-sign.json"][3] == "MISMATCH"
    assert table_rows(out)["scenario-1-order-select.json"][3] == "PASS"
    diff = out.split("scenario-1-order-sign.json: MISMATCH\n", 1)[1].splitlines()
    assert diff[0].strip() == "golden: Deliberately wrong: a warning offering T-DXd only."
    assert diff[1].strip() == (
        "- expected: LAPATINIB-RECHALLENGE [warning]; suggests 2267582; "
        "deletes MedicationRequest/draft-lapatinib"
    )
    assert diff[2].strip() == (
        "+ got:      LAPATINIB-RECHALLENGE [critical]; suggests 194000+224905+2361285 | 2267582; "
        "deletes MedicationRequest/draft-lapatinib; override reasons clinical-trial-protocol, "
        "no-alternative-available, cns-only-progression-local-therapy, other"
    )


def test_a_missing_card_is_a_mismatch(
    serve: Callable[..., str], hooks_dir: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    golden = EXPECTED["scenario-1-patient-view"]
    write_json(golden_dir / "scenario-1-patient-view.json", {"cards": golden["cards"][1:]})
    code, out = replay(capsys, str(hooks_dir), "--base", serve(), "--golden", str(golden_dir))
    assert code == 1
    assert "+ got:      CNS-ACTIVE-THERAPY [info]" in out
    assert "- expected" not in out


def test_without_golden_files_responses_are_still_schema_checked(
    serve: Callable[..., str], hooks_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = replay(
        capsys, str(hooks_dir), "--base", serve(), "--golden", str(tmp_path / "none"), "--json"
    )
    assert code == 0
    outcomes = json.loads(out)
    assert [o["verdict"] for o in outcomes] == ["NO-GOLDEN"] * 3
    assert all(o["status"] == 200 and o["cards"] >= 1 for o in outcomes)


def test_signed_requests_pass_a_service_that_verifies_jwts(
    serve: Callable[..., str],
    hooks_dir: Path,
    golden_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clients = tmp_path / "clients.toml"
    clients.write_text(
        f'[[clients]]\niss = "{SANDBOX_ISS}"\njwks_file = "{AUTH_DIR / "sandbox-jwks.json"}"\n',
        encoding="utf-8",
    )
    base = serve(auth_enabled=True, clients_file=clients)
    unsigned, _ = replay(capsys, str(hooks_dir), "--base", base, "--golden", str(golden_dir))
    assert unsigned == 1
    key = str(AUTH_DIR / "sandbox-ecprivkey.pem")
    signed = ["--sign-key", key, "--iss", SANDBOX_ISS, "--kid", SANDBOX_KID]
    code, out = replay(capsys, str(hooks_dir), "--base", base, "--golden", str(golden_dir), *signed)
    assert code == 0, out
    assert [row[3] for row in table_rows(out).values()] == ["PASS"] * 3


@responses.activate
def test_a_response_that_breaks_the_cds_hooks_schema_is_invalid(
    hooks_dir: Path, golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = "http://127.0.0.1:9"
    services = [
        {"hook": h, "id": f"svc-{h}", "description": "d", "prefetch": {}}
        for h in ("patient-view", "order-select", "order-sign")
    ]
    responses.get(f"{base}/cds-services", json={"services": services})
    card_without_source = {"summary": "Stop", "indicator": "critical", "uuid": "u"}
    for hook in ("patient-view", "order-select", "order-sign"):
        responses.post(f"{base}/cds-services/svc-{hook}", json={"cards": [card_without_source]})
    code, out = replay(capsys, str(hooks_dir), "--base", base, "--golden", str(golden_dir))
    assert code == 1
    assert [row[3] for row in table_rows(out).values()] == ["INVALID"] * 3
    assert "cards[0].source: is required" in out


def test_an_unreachable_service_is_an_error_not_a_pass(
    hooks_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with responses.RequestsMock():  # no registered URL: every request fails to connect
        code = main(["replay", str(hooks_dir), "--base", "http://127.0.0.1:9"])
    assert code == 1
    assert "discovery at http://127.0.0.1:9/cds-services failed" in capsys.readouterr().err


def test_the_repository_hooks_replay_against_their_golden_files(
    serve: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    golden = str(REPO / "fixtures" / "golden")
    code, out = replay(capsys, str(REPO / "hooks"), "--base", serve(), "--golden", golden, "--json")
    outcomes = json.loads(out)
    assert len(outcomes) == len(list((REPO / "hooks").glob("*.json"))) > 0
    assert {o["request"]: o["verdict"] for o in outcomes if o["verdict"] != "PASS"} == {}
    assert code == 0


def test_an_unusable_signing_key_is_refused_before_any_request(
    hooks_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not a key", encoding="utf-8")
    with responses.RequestsMock():  # any request would fail the test
        code = main(
            [
                "replay",
                str(hooks_dir),
                "--base",
                "http://127.0.0.1:9",
                "--sign-key",
                str(key),
                "--iss",
                "x",
            ]
        )
    assert code == 2
    assert f"--sign-key {key}" in capsys.readouterr().err
