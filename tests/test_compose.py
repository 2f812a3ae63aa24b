"""The production stack's contract: docker-compose.yml, Dockerfile, .dockerignore, .env.example.

Docker cannot run here, so these tests read the files; `docker compose config` runs only where
the compose plugin exists.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVICES = {"db", "minio", "minio-init", "mlflow", "web", "worker", "trainer", "jupyter"}
ONE_SHOT = {"minio-init", "trainer"}
# Published on the host's loopback only (the value is the bind address).
LOOPBACK_ONLY = {"mlflow": "127.0.0.1"}
HOST_PORTS = {
    "web": {9090: 9090},
    "mlflow": {5500: 5500},
    "minio": {8801: 9000, 8800: 9001},
    "jupyter": {8880: 8880},
}
DEPENDS_ON = {
    "minio-init": {"minio": "service_healthy"},
    "mlflow": {"db": "service_healthy", "minio-init": "service_completed_successfully"},
    "web": {
        "db": "service_healthy",
        "minio-init": "service_completed_successfully",
        "mlflow": "service_healthy",
    },
    "worker": {
        "db": "service_healthy",
        "minio-init": "service_completed_successfully",
        "mlflow": "service_healthy",
        "web": "service_healthy",
    },
    "trainer": {
        "db": "service_healthy",
        "minio-init": "service_completed_successfully",
        "mlflow": "service_healthy",
    },
    "jupyter": {"mlflow": "service_healthy", "web": "service_healthy"},
}
APP_SERVICES = ("web", "worker", "trainer", "jupyter")
SECRET_KEY_NAME = re.compile(r"PASSWORD|SECRET|KEY|ACCESS|TOKEN")
REQUIRED_INTERPOLATION = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]+\}$")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
# Environment variables the app services get that settings.py does not read itself.
READ_BY_LIBRARIES = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
}
PINNED_TAG = re.compile(
    r"^(RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z|\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?)$"
)


class MissingVariable(KeyError):
    pass


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # resolves the <<: merge keys


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$ rules, for one string."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        value = env.get(name)
        empty = value is None or (value == "" and operator is not None and ":" in operator)
        if operator in (":?", "?") and empty:
            raise MissingVariable(f"{name}: {argument}")
        if operator in (":-", "-") and empty:
            return argument
        if operator in (":+", "+"):
            return "" if empty else argument
        return value or ""

    return "$".join(INTERPOLATION.sub(replace, part) for part in text.split("$$"))


def _environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.partition("=")[::2] for item in raw)
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def _resolved_environment(service: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    return {key: _interpolate(value, env) for key, value in _environment(service).items()}


def _script(service: dict[str, Any]) -> str:
    parts = [*(service.get("entrypoint") or []), *(service.get("command") or [])]
    return " ".join(str(part) for part in parts)


def _host_ports(service: dict[str, Any]) -> dict[int, int]:
    ports = {}
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports[int(entry["published"])] = int(entry["target"])
        else:
            *_, published, target = str(entry).split(":")
            ports[int(published)] = int(target.split("/")[0])
    return ports


def _walk_strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in [str(key), *_walk_strings(value)]]
    if isinstance(node, list):
        return [s for item in node for s in _walk_strings(item)]
    return [str(node)] if node is not None else []


def test_it_defines_the_production_services() -> None:
    assert set(_services()) == SERVICES


def test_it_pins_every_image_tag() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in _services().items():
        image = service.get("image")
        assert image, f"{name} has no image: (a built service must still name and tag it)"
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and PINNED_TAG.match(tag), f"{name}: {image} is not pinned"
        if "build" in service:
            assert tag == version, f"{name}: the project image must carry version {version}"


def test_it_publishes_exactly_the_design_ports() -> None:
    published = {name: _host_ports(service) for name, service in _services().items()}
    assert {name: ports for name, ports in published.items() if ports} == HOST_PORTS
    assert published["db"] == {}


def test_it_gives_every_long_running_service_a_healthcheck() -> None:
    for name, service in _services().items():
        check = service.get("healthcheck") or {}
        if name in ONE_SHOT:
            assert service.get("restart") == "no", f"{name} is a one-shot job"
            continue
        assert not check.get("disable"), name
        test = check.get("test")
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
        assert service.get("restart") == "unless-stopped", name


def test_it_orders_start_up_with_conditions() -> None:
    services = _services()
    found = {}
    for name, service in services.items():
        depends = service.get("depends_on")
        if depends is None:
            continue
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        found[name] = {target: spec["condition"] for target, spec in depends.items()}
    assert found == DEPENDS_ON
    for conditions in found.values():
        for target, condition in conditions.items():
            if condition == "service_healthy":
                assert "healthcheck" in services[target], target
            else:
                assert target in ONE_SHOT, target


def test_it_takes_every_credential_from_env_as_a_required_variable() -> None:
    for name, service in _services().items():
        for key, value in _environment(service).items():
            if SECRET_KEY_NAME.search(key):
                assert REQUIRED_INTERPOLATION.match(value), f"{name}: {key}={value!r}"
            for userinfo in re.findall(r"://[^/@\s]+:([^@\s]*)@", value):
                assert REQUIRED_INTERPOLATION.match(userinfo), f"{name}: {key} embeds a password"


def test_it_writes_no_example_secret_into_the_file() -> None:
    text = COMPOSE_FILE.read_text()
    secrets = {v for k, v in _env_example().items() if SECRET_KEY_NAME.search(k) and v}
    assert secrets, ".env.example lost its placeholder secrets"
    assert [secret for secret in secrets if secret in text] == []


def test_it_fails_without_the_required_secrets() -> None:
    env = _env_example()
    for variable in ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "DJANGO_SECRET_KEY"):
        partial = {k: v for k, v in env.items() if k != variable}
        with pytest.raises(MissingVariable, match=variable):
            for service in _services().values():
                _resolved_environment(service, partial)


def test_it_interpolates_only_variables_that_env_example_defines() -> None:
    # Compose interpolates values, not YAML comments: look at the parsed strings.
    strings = [text.replace("$$", "") for text in _walk_strings(_compose())]
    stray = [text for text in strings if re.search(r"\$(?!\{)", text)]
    assert stray == [], "a bare $ is interpolated by compose: write $$ for the shell"
    used = {match[0] for text in strings for match in INTERPOLATION.findall(text)}
    assert used, "the compose file interpolates nothing"
    assert sorted(used - set(_env_example())) == []


def test_it_creates_private_buckets() -> None:
    script = _script(_services()["minio-init"])
    for bucket in ("mlflow", "dvc"):
        assert re.search(rf"mc mb\b[^\n]*\b\w+/{bucket}\b", script), bucket
        assert re.search(rf"mc anonymous set none \w+/{bucket}\b", script), bucket
    assert not re.search(r"anonymous set (public|download|upload)|mc policy set", script)


def test_it_keeps_jupyter_behind_a_profile() -> None:
    profiles = {name: s.get("profiles") for name, s in _services().items() if s.get("profiles")}
    assert profiles == {"jupyter": ["jupyter"], "trainer": ["tools"]}


def test_it_migrates_and_sets_up_schedules_before_serving() -> None:
    services = _services()
    web = _script(services["web"])
    steps = [
        web.find("manage.py migrate"),
        web.find("manage.py setup_schedules"),
        web.find("gunicorn"),
    ]
    assert -1 not in steps and steps == sorted(steps), web
    assert "0.0.0.0:9090" in web
    assert "manage.py qcluster" in _script(services["worker"])
    mlflow = _script(services["mlflow"])
    for flag in ("mlflow server", "--port 5500", "--serve-artifacts", "s3://mlflow"):
        assert flag in mlflow, flag
    assert "--backend-store-uri" in mlflow
    backend = _environment(services["mlflow"])["MLFLOW_BACKEND_STORE_URI"]
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the project ships psycopg2.
    assert backend.startswith("postgresql+psycopg2://") and "@db:5432/mlflow" in backend


def test_it_points_the_app_at_the_compose_services() -> None:
    env = _env_example()
    users = {
        "web": "MINIO_APP",
        "worker": "MINIO_APP",
        "trainer": "MINIO_APP",
        "jupyter": "MINIO_READER",
    }
    for name in APP_SERVICES:
        resolved = _resolved_environment(_services()[name], env)
        assert resolved["MLFLOW_TRACKING_URI"] == "http://mlflow:5500", name
        assert resolved["DVC_REMOTE_URL"] == "s3://dvc", name
        assert resolved["DVC_S3_ENDPOINT_URL"] == "http://minio:9000", name
        if name != "jupyter":
            assert re.match(r"^postgres://titanic:[^@]+@db:5432/titanic$", resolved["DATABASE_URL"])
        # Issue 14: each service has its own object-store user, never MinIO's root.
        assert resolved["AWS_ACCESS_KEY_ID"] == env[f"{users[name]}_USER"], name
        assert resolved["AWS_SECRET_ACCESS_KEY"] == env[f"{users[name]}_PASSWORD"], name


def test_it_publishes_only_the_web_port_beyond_loopback() -> None:
    for name, service in _services().items():
        for entry in service.get("ports", []):
            host_ip = entry.get("host_ip") if isinstance(entry, dict) else None
            if not isinstance(entry, dict):
                parts = str(entry).split(":")
                host_ip = parts[0] if len(parts) == 3 else None
            if name == "web":
                continue  # the product's port, behind the TLS proxy
            assert host_ip == "127.0.0.1", f"{name}: {entry} is published on every interface"


def test_it_keeps_minio_root_keys_in_minio_and_its_init_job() -> None:
    for name, service in _services().items():
        if name in ("minio", "minio-init"):
            continue
        texts = _walk_strings(service)
        assert [t for t in texts if "MINIO_ROOT" in t] == [], f"{name} holds MinIO's root keys"
    resolved = {
        name: _resolved_environment(service, _env_example())
        for name, service in _services().items()
    }
    keys = {name: env.get("AWS_ACCESS_KEY_ID") for name, env in resolved.items()}
    assert keys["mlflow"] == _env_example()["MINIO_MLFLOW_USER"]
    assert len({keys["web"], keys["mlflow"], keys["jupyter"]}) == 3  # one user per service


def test_it_creates_scoped_object_store_users_in_the_init_job() -> None:
    script = _script(_services()["minio-init"])
    for user, policy in (
        ("MINIO_APP_USER", "titanic-dvc-readwrite"),
        ("MINIO_MLFLOW_USER", "titanic-mlflow-readwrite"),
        ("MINIO_READER_USER", "titanic-readonly"),
    ):
        assert re.search(rf'grant "\$\${user}" "\$\$\w+" {policy}', script), user
    assert "mc admin user add" in script and "mc admin policy create" in script
    assert "mc admin policy attach" in script
    assert '"arn:aws:s3:::%s","arn:aws:s3:::%s/*"' in script  # one bucket per statement
    assert re.search(r"READ='[^']*s3:GetObject[^']*'", script)
    assert "s3:PutObject" not in re.search(r"READ='([^']*)'", script).group(1)
    assert "s3:*" not in script and "arn:aws:s3:::*" not in script


def test_it_gives_jupyter_no_app_secrets() -> None:
    jupyter = _environment(_services()["jupyter"])
    app_secrets = {"DJANGO_SECRET_KEY", "DATABASE_URL", "TITANIC_ADMIN_PASSWORD"}
    assert sorted(app_secrets & set(jupyter)) == []
    assert not [v for v in jupyter.values() if "POSTGRES_PASSWORD" in v or "MINIO_APP" in v]
    assert "MINIO_READER_PASSWORD" in jupyter["AWS_SECRET_ACCESS_KEY"]


def test_it_uses_only_variable_names_that_settings_reads() -> None:
    settings_text = (ROOT / "titanic_ops" / "settings.py").read_text()
    for name in ("web", "worker"):
        for key in _environment(_services()[name]):
            assert f'"{key}"' in settings_text or key in READ_BY_LIBRARIES, f"{name}: {key}"


def test_it_forwards_every_setting_that_env_example_offers() -> None:
    settings_text = (ROOT / "titanic_ops" / "settings.py").read_text()
    read = set(re.findall(r'(?:env_\w+|os\.environ\.get)\(\s*"([A-Z][A-Z0-9_]*)"', settings_text))
    offered = read & set(_env_example())
    assert len(offered) > 20, "settings.py or .env.example changed shape"
    for name in ("web", "worker"):
        assert sorted(offered - set(_environment(_services()[name]))) == [], name


def production_example() -> dict[str, str]:
    """.env.example with every placeholder secret replaced by a real-looking random value."""
    return {
        name: secrets.token_hex(32) if "change-me" in value else value
        for name, value in _env_example().items()
    }


def test_it_gives_settings_an_environment_it_accepts(tmp_path: Path) -> None:
    env = _resolved_environment(_services()["web"], production_example())
    env.update(
        TITANIC_VAR_DIR=str(tmp_path / "var"),  # /app/var exists only in the image
        DJANGO_SETTINGS_MODULE="titanic_ops.settings",
        PATH=os.environ.get("PATH", ""),
        HOME=str(tmp_path),
    )
    probe = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.DEBUG, s.DATABASES['default']['HOST'], s.MLFLOW_TRACKING_URI, "
        "s.MLFLOW_ARTIFACT_ROOT, s.DVC_REMOTE_URL, s.SPARK_MASTER, "
        "'127.0.0.1' in s.ALLOWED_HOSTS]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == [
        False,
        "db",
        "http://mlflow:5500",
        "",
        "s3://dvc",
        "local[*]",
        True,
    ]


def test_it_keeps_state_in_named_volumes() -> None:
    compose = _compose()
    assert set(compose["volumes"]) == {"pgdata", "miniodata", "titanic-var"}
    mounts = {name: s.get("volumes", []) for name, s in compose["services"].items()}
    assert mounts["db"] == ["pgdata:/var/lib/postgresql/data"]
    assert mounts["minio"] == ["miniodata:/data"]
    for name in APP_SERVICES:
        assert mounts[name] == ["titanic-var:/app/var"], name
    for name, entries in mounts.items():
        for entry in entries:
            assert not str(entry).startswith((".", "/", "~")), f"{name}: bind mount {entry}"


def test_it_has_shell_and_python_snippets_that_parse() -> None:
    checked = 0
    for name, service in _services().items():
        words = [*(service.get("entrypoint") or []), *(service.get("command") or [])]
        if len(words) >= 3 and words[0] in ("sh", "/bin/sh") and words[1].startswith("-"):
            script = words[2].replace("$$", "$")
            result = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True)
            assert result.returncode == 0, f"{name}: {result.stderr}"
            for body in re.findall(r"<<'PY'\n(.*?)\nPY\n", script, flags=re.S):
                compile(body, f"{name}-heredoc", "exec")
            checked += 1
        test = (service.get("healthcheck") or {}).get("test") or []
        if test[:3] == ["CMD", "python", "-c"]:
            compile(test[3], f"{name}-healthcheck", "exec")
            checked += 1
    assert checked >= 7


def test_it_builds_a_non_root_image_with_java_and_the_pinned_project() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)\s+AS\s+(\S+)", dockerfile, flags=re.M)
    assert stages[0][0].startswith("python:3.11.") and stages[0][0].endswith("-slim-bookworm")
    assert [stage for _, stage in stages][-1] == "app", "a plain docker build must give the app"
    targets = {s["build"]["target"] for s in _services().values() if "build" in s}
    assert targets <= {stage for _, stage in stages}
    assert "openjdk-17-jre-headless" in dockerfile
    assert "-c requirements.lock" in dockerfile
    assert "collectstatic" in dockerfile
    base = dockerfile.split(" AS base", 1)[1].split("\nFROM ", 1)[0]
    assert re.search(r"^USER (?!root)\w+", base, flags=re.M)
    app = dockerfile.rsplit(" AS app", 1)[1]
    assert "USER root" not in app
    assert re.search(r'^CMD \["gunicorn".*"0\.0\.0\.0:9090"', app, flags=re.M)


def test_it_keeps_state_and_secrets_out_of_the_build_context() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    for entry in (".git", ".venv", ".env", "var/", "data/*.csv", "mlruns/", "test-artifacts/"):
        assert entry in ignored, entry


def test_it_passes_docker_compose_config(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    plugin = docker and subprocess.run([docker, "compose", "version"], capture_output=True)
    if not plugin or plugin.returncode != 0:
        pytest.skip("the docker compose plugin is not installed here; the file checks above ran")
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    env = {k: v for k, v in os.environ.items() if k not in _env_example()}
    command = [docker, "compose", "--project-directory", str(tmp_path), "--profile", "jupyter"]
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    result = subprocess.run([*command, "config", "-q"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    (tmp_path / ".env").write_text("")
    result = subprocess.run([*command, "config", "-q"], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "in .env" in result.stderr + result.stdout


def _bind_addresses(service: dict[str, Any]) -> set[str]:
    addresses = set()
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            addresses.add(str(entry.get("host_ip", "")))
        else:
            parts = str(entry).split(":")
            addresses.add(parts[0] if len(parts) == 3 else "")
    return addresses


def test_it_requires_a_login_for_mlflow_reachable_only_on_loopback() -> None:
    services = _services()
    mlflow = services["mlflow"]
    for name, address in LOOPBACK_ONLY.items():
        assert _bind_addresses(services[name]) == {address}, name
    script = _script(mlflow)
    assert "mlflow server --app-name basic-auth" in script
    assert "MLFLOW_AUTH_CONFIG_PATH" in script and "default_permission = READ" in script
    # The admin password comes from .env and replaces whatever the auth store held.
    assert "store.update_user(user, password=password" in script
    env = _env_example()
    resolved = _resolved_environment(mlflow, env)
    assert resolved["MLFLOW_AUTH_ADMIN_PASSWORD"] == env["MLFLOW_ADMIN_PASSWORD"]
    assert resolved["MLFLOW_READER_PASSWORD"] == env["MLFLOW_READER_PASSWORD"]
    assert resolved["MLFLOW_AUTH_DATABASE_URI"].endswith("@db:5432/mlflow_auth")
    for name in ("MLFLOW_ADMIN_PASSWORD", "MLFLOW_READER_PASSWORD", "MLFLOW_FLASK_SECRET_KEY"):
        partial = {k: v for k, v in env.items() if k != name}
        with pytest.raises(MissingVariable):
            _resolved_environment(mlflow, partial)


def test_it_gives_the_registry_s_write_account_only_to_the_app() -> None:
    services = _services()
    env = _env_example()
    accounts = {
        name: _resolved_environment(services[name], env).get("MLFLOW_TRACKING_USERNAME")
        for name in APP_SERVICES
    }
    assert accounts == {
        "web": env["MLFLOW_ADMIN_USERNAME"],
        "worker": env["MLFLOW_ADMIN_USERNAME"],
        "trainer": env["MLFLOW_ADMIN_USERNAME"],
        "jupyter": env["MLFLOW_READER_USERNAME"],
    }
    jupyter = _resolved_environment(services["jupyter"], env)
    assert jupyter["MLFLOW_TRACKING_PASSWORD"] == env["MLFLOW_READER_PASSWORD"]


def test_it_has_a_one_shot_trainer_whose_arguments_replace_the_profile() -> None:
    trainer = _services()["trainer"]
    entrypoint = trainer["entrypoint"]
    assert entrypoint[:2] == ["sh", "-ec"]
    steps = [line.strip() for line in entrypoint[2].strip().splitlines()]
    # `$$` is compose's escape for the shell's `$`: the run's arguments reach `train`.
    assert steps == ["python manage.py ingest_data", 'exec python manage.py train "$$@"']
    assert trainer["command"] == ["--profile", "quick"]
    assert "ports" not in trainer and trainer["volumes"] == ["titanic-var:/app/var"]
