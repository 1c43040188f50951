"""The files that run fpcheck as a service say what the README promises: the image runs `fpcheck serve`
as a non-root user with a health check, Compose has Redis and two replicas sharing it, the systemd unit
runs as a non-root user and restarts, and the upgrade notes name every Redis key prefix."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ROOT_USERS = {"", "0", "root"}


def containerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of every instruction, continuation lines joined, comments dropped."""
    lines = [line for line in (ROOT / "Containerfile").read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = containerfile()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_the_image_runs_fpcheck_serve_by_default() -> None:
    stage = final_stage()
    entrypoint = [json.loads(rest) for word, rest in stage if word == "ENTRYPOINT"]
    cmd = [json.loads(rest) for word, rest in stage if word == "CMD"]
    assert cmd, "the final stage has no CMD"
    assert (entrypoint[-1] if entrypoint else []) + cmd[-1] == ["fpcheck", "serve"]


def test_the_image_runs_as_a_non_root_user() -> None:
    users = [rest for word, rest in final_stage() if word == "USER"]
    assert users, "the final stage has no USER: it would run as root"
    user, _, group = users[-1].partition(":")
    assert user not in ROOT_USERS and group not in ROOT_USERS - {""}


def test_the_image_has_a_health_check_on_healthz_in_both_modes() -> None:
    from bot.slack.serve import HEALTH_PATH

    checks = [rest for word, rest in final_stage() if word == "HEALTHCHECK"]
    assert checks and not checks[-1].upper().startswith("NONE")
    assert HEALTH_PATH in checks[-1]
    assert "PORT" in checks[-1] and "FPCHECK_HEALTH_PORT" in checks[-1]


def test_the_image_builds_on_the_base_argument_and_installs_from_the_checkout() -> None:
    steps = containerfile()
    assert any(word == "ARG" and rest.startswith("BASE=") for word, rest in steps)
    assert all(rest.split()[0] == "${BASE}" for word, rest in steps if word == "FROM")
    assert any(word == "RUN" and "pip install --no-cache-dir" in rest for word, rest in steps)


def test_the_build_context_leaves_out_secrets_and_the_venv() -> None:
    lines = [line.strip() for line in (ROOT / ".containerignore").read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    # everything is left out first, then only what `pip install .` needs is let back in
    assert rules[0] == "*"
    allowed = {rule.removeprefix("!").rstrip("/") for rule in rules if rule.startswith("!")}
    assert not allowed & {".env", ".venv", ".git"}
    assert {"pyproject.toml", "README.md", "bot", "checks", "sandbox"} <= allowed


def compose() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_compose_has_redis_and_two_replicas_sharing_it() -> None:
    services = compose()["services"]
    redis = [name for name, s in services.items() if "redis" in s.get("image", "")]
    replicas = {name: s for name, s in services.items() if "fpcheck" in s.get("image", "")}
    assert len(redis) == 1 and len(replicas) >= 2
    urls = {s["environment"]["FPCHECK_REDIS_URL"] for s in replicas.values()}
    assert len(urls) == 1
    assert f"//{redis[0]}:" in urls.pop()
    for s in [services[redis[0]], *replicas.values()]:
        assert s["healthcheck"]["test"], s
    for s in replicas.values():
        assert s["env_file"]
        assert s["depends_on"][redis[0]]["condition"] == "service_healthy"


def unit() -> dict[str, dict[str, list[str]]]:
    """The unit's sections, each key with every value it is given (systemd allows repeats)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in (ROOT / "deploy" / "fpcheck.service").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_the_systemd_unit_runs_fpcheck_serve_as_a_non_root_user_and_restarts() -> None:
    service = unit()["Service"]
    program, *args = service["ExecStart"][-1].split()
    assert Path(program).name == "fpcheck" and args == ["serve"]
    assert service["User"][-1] not in ROOT_USERS
    assert service["Restart"][-1] in {"on-failure", "always"}
    assert service["EnvironmentFile"]
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["ProtectSystem"][-1] in {"strict", "full"}
    assert "WantedBy" in unit()["Install"]


def test_image_script_is_valid_bash() -> None:
    done = subprocess.run(["bash", "-n", str(ROOT / "scripts" / "image.sh")], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr


def test_the_changelog_names_this_version_and_every_redis_prefix() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert re.search(rf"^## {re.escape(version)}\b", changelog, re.M), f"no '## {version}' in CHANGELOG.md"
    prefixes = set()
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "checks").rglob("*.py")]:
        prefixes |= set(re.findall(r"[\"'](fpcheck:[a-z-]+:)", path.read_text()))
    assert prefixes, "no Redis key prefixes found in the code"
    missing = sorted(p for p in prefixes if p not in changelog)
    assert not missing, f"CHANGELOG.md's upgrade notes do not name {missing}"
    assert "FPCHECK_STATE_FILE" in changelog and ".fpcheck-state.json" in changelog


@pytest.mark.parametrize("name", ["LICENSE", "CHANGELOG.md", "deploy/README.md"])
def test_the_documents_exist(name: str) -> None:
    text = (ROOT / name).read_text()
    assert text.strip()
    if name == "LICENSE":
        assert text.startswith("MIT License") and "Copyright (c) 2026 the fpcheck authors" in text


def test_the_deploy_readme_links_resolve() -> None:
    readme = ROOT / "deploy" / "README.md"
    for target in re.findall(r"\]\(((?!https?:)[^)#]+)", readme.read_text()):
        assert (readme.parent / target).exists(), target
