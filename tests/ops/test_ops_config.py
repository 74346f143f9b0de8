"""Configuration as an operator meets it: a bad setting exits 2 with one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service import __version__
from cds_service.cli import main
from cds_service.commands.serve import usable_cpus
from cds_service.config import Settings


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("CDS_LOG_LEVEL", "verbose", "CDS_LOG_LEVEL must be one of DEBUG, INFO"),
        ("CDS_LOG_FORMAT", "xml", "CDS_LOG_FORMAT must be one of text, json"),
        (
            "CDS_FHIR_SERVERS",
            "http://ehr.example.org/fhir",
            "CDS_FHIR_SERVERS entries must be https://",
        ),
        ("CDS_JWT_LEEWAY", "-5", "CDS_JWT_LEEWAY must be zero or more"),
        ("CDS_FHIR_DEADLINE", "nan", "CDS_FHIR_DEADLINE must be positive"),
        ("CDS_AUTH", "maybe", "CDS_AUTH must be on or off"),
        ("CDS_CLOCK_OVERRIDE", "2", "CDS_CLOCK_OVERRIDE must be on or off"),
    ],
)
def test_a_bad_setting_stops_serve_with_exit_2_and_one_line_naming_it(
    monkeypatch, capsys, name, value, named
):
    monkeypatch.setenv(name, value)

    status = main(["serve", "--port", "19699"])

    err = capsys.readouterr().err
    assert status == 2
    assert named in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_jwt_leeway_zero_is_accepted():
    assert Settings.from_env({"CDS_JWT_LEEWAY": "0"}).jwt_leeway_seconds == 0


def test_log_level_is_case_insensitive_and_format_defaults_to_text():
    settings = Settings.from_env({"CDS_LOG_LEVEL": "debug"})

    assert (settings.log_level, settings.log_format) == ("DEBUG", "text")


def test_https_fhir_servers_and_http_dev_servers_are_accepted():
    settings = Settings.from_env(
        {
            "CDS_FHIR_SERVERS": "https://ehr.example.org/fhir",
            "CDS_FHIR_DEV_SERVERS": "http://localhost:8080/fhir",
        }
    )

    assert settings.fhir_servers == ("https://ehr.example.org/fhir",)
    assert settings.fhir_dev_servers == ("http://localhost:8080/fhir",)


def test_default_sqlite_path_is_absolute_and_the_same_from_any_directory(tmp_path, monkeypatch):
    env = {"HOME": str(tmp_path)}
    monkeypatch.chdir(tmp_path)
    here = Settings.from_env(env).database_url
    monkeypatch.chdir("/")
    there = Settings.from_env(env).database_url

    assert here == there == f"sqlite:///{tmp_path}/.local/state/cds-service/cds-service.sqlite3"
    assert Settings.from_env({"XDG_STATE_HOME": "/srv/state"}).database_url == (
        "sqlite:////srv/state/cds-service/cds-service.sqlite3"
    )


def test_version_flag_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])

    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"cds-service {__version__}"


def _cgroup(tmp_path: Path, cpu_max: str) -> Path:
    (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    return tmp_path


def test_workers_follow_the_container_cpu_quota_not_the_host_cores(tmp_path):
    host = usable_cpus(tmp_path / "absent")

    assert usable_cpus(_cgroup(tmp_path, "100000 100000")) == 1
    assert usable_cpus(_cgroup(tmp_path, "150000 100000")) == min(2, host)  # 1.5 CPUs: 2 workers
    assert usable_cpus(_cgroup(tmp_path, "max 100000")) == host


def test_workers_follow_a_cgroup_v1_quota(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")

    assert usable_cpus(tmp_path) == 1
