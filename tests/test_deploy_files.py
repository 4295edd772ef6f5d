"""The deployment files (deploy/) parse, agree with each other and with the code.

No Docker engine, Kubernetes cluster or Prometheus is needed: the files are read as data. Checks
that need a tool (docker compose, systemd-analyze) run when it is installed and skip otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
STAGES = {"ingest": 9101, "process": 9102, "alert": 9104, "notify": 9103}
# Stages that get the Apprise config: notify delivers through it; process and alert load the alert
# rules and check their `notify` tags against it (rules/apprise_tags.py), so they need it too.
APPRISE_STAGES = ("process", "alert", "notify")
# Stages that read the rules folder (hot-reloaded).
RULES_STAGES = ("process", "alert")
CODE_DIRS = ("core", "watchfloor", "ingest", "processors", "alerting", "rules", "notifiers")
# Suffixes Prometheus adds to a metric's exposed series (counters, histograms).
SERIES_SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


# --------------------------------------------------------------------------- helpers


def code_metric_names() -> set[str]:
    """Every `watchfloor_*` name that appears as a string literal in the stages' code, computed
    now: metrics are added while the deployment files evolve."""
    names: set[str] = set()
    for folder in CODE_DIRS:
        for path in (REPO / folder).rglob("*.py"):
            names.update(re.findall(r"""["'](watchfloor_[a-z0-9_]+)["']""", path.read_text(encoding="utf-8")))
    return names


def metric_names_in(expr: str) -> set[str]:
    return set(re.findall(r"\b(watchfloor_[a-z0-9_]+)\b", expr))


def unknown_metrics(exprs: list[str], known: set[str]) -> set[str]:
    """Names used in PromQL that no code defines (allowing the suffixes Prometheus adds)."""
    missing = set()
    for expr in exprs:
        for name in metric_names_in(expr):
            if name in known:
                continue
            if any(name.endswith(s) and name[: -len(s)] in known for s in SERIES_SUFFIXES):
                continue
            missing.add(name)
    return missing


def k8s_docs() -> list[tuple[Path, dict]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                out.append((path, doc))
    return out


def k8s_objects(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in k8s_docs() if doc["kind"] == kind}


def deployment(stage: str) -> dict:
    return k8s_objects("Deployment")[f"watchfloor-{stage}"]


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def unit_file(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as {section: {key: [values...]}} (keys may repeat, so no configparser)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path}: {raw!r} before any section"
        key, sep, value = line.partition("=")
        assert sep, f"{path}: not key=value: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def tryout_apprise_config() -> str:
    """The try-out Apprise config the compose file's header tells you to write (printf '...')."""
    text = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    match = re.search(r"printf '([^']*)' > deploy/apprise\.yaml", text)
    assert match, "docker-compose.yml: the try-out `printf '...' > deploy/apprise.yaml` line is gone"
    return match.group(1).replace("\\n", "\n")


def dashboard() -> dict:
    return json.loads((DEPLOY / "grafana" / "watchfloor-dashboard.json").read_text(encoding="utf-8"))


def dashboard_exprs() -> list[str]:
    exprs = []

    def walk(panels: list[dict]) -> None:
        for panel in panels:
            exprs.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            walk(panel.get("panels", []))

    walk(dashboard()["panels"])
    return exprs


def prometheus_rules() -> list[dict]:
    cm = k8s_objects("ConfigMap")["watchfloor-prometheus-rules"]
    doc = yaml.safe_load(cm["data"]["watchfloor.rules.yml"])
    return [rule for group in doc["groups"] for rule in group["rules"]]


# --------------------------------------------------------------------------- stages


def test_the_deployed_stages_are_the_codes_long_running_stages() -> None:
    """A stage added to (or renamed in) the code must reach every deployment file: STAGES drives
    the per-stage tests below."""
    from core.health import DEFAULT_PORTS

    assert STAGES == {name: port for name, port in DEFAULT_PORTS.items() if name != "run"}


# --------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)  # line continuations
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_final_stage_runs_as_non_root_with_the_watchfloor_entrypoint() -> None:
    steps = dockerfile_instructions()
    final_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    final = steps[final_from:]
    users = [arg for op, arg in final if op == "USER"]
    assert users, "the final stage must switch to an unprivileged USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"final USER is {users[-1]!r}"
    assert [arg for op, arg in final if op == "ENTRYPOINT"][-1] == '["watchfloor"]'


def test_dockerfile_is_python_311_slim_without_java_or_a_broker() -> None:
    steps = dockerfile_instructions()
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").lower()
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in steps
    assert all(arg.startswith("${PYTHON_IMAGE}") for op, arg in steps if op == "FROM")
    for word in ("openjdk", "jre", "default-jdk", "temurin", "watchfloor broker", "maven"):
        assert word not in text, f"production image must not ship {word!r}"


def test_dockerfile_copies_every_package_the_project_installs() -> None:
    """A new top-level package in pyproject.toml must be copied into the image too."""
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    include = re.search(r"\[tool\.setuptools\.packages\.find\]\s*include\s*=\s*\[([^\]]*)\]", pyproject)
    assert include, "pyproject.toml: [tool.setuptools.packages.find] include not found"
    packages = {p.strip().strip("\"'").rstrip("*") for p in include.group(1).split(",") if p.strip()}
    copied = {arg.split()[0] for op, arg in dockerfile_instructions() if op == "COPY" and "--from" not in arg}
    for package in packages:
        assert (REPO / package).is_dir()
        assert package in copied, f"deploy/Dockerfile does not COPY {package}/"


def test_dockerfile_exposes_every_stage_port() -> None:
    exposed = {int(port) for op, arg in dockerfile_instructions() if op == "EXPOSE" for port in arg.split()}
    assert set(STAGES.values()) <= exposed


# --------------------------------------------------------------------------- docker compose


def test_compose_has_kafka_and_one_service_per_stage_with_healthchecks() -> None:
    services = compose()["services"]
    assert {"kafka", *STAGES} <= set(services)
    assert services["kafka"]["image"].split(":")[0].endswith("apache/kafka")
    kafka_env = services["kafka"]["environment"]
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for name, service in services.items():
        check = service.get("healthcheck", {}).get("test")
        assert check, f"compose service {name} has no healthcheck"
    for stage, port in STAGES.items():
        service = services[stage]
        assert service["command"] == [stage]
        assert str(service["environment"]["WATCHFLOOR_METRICS_PORT"]) == str(port)
        assert service["environment"]["WATCHFLOOR_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert f"127.0.0.1:{port}/healthz" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_compose_mounts_rules_and_feeds_from_the_repo_and_apprise_as_a_secret() -> None:
    doc = compose()
    services = doc["services"]

    def host_dirs(service: dict) -> dict[str, str]:
        pairs = (v.split(":")[:2] for v in service.get("volumes", []) if isinstance(v, str))
        return {target: (DEPLOY / source).resolve().relative_to(REPO).as_posix() for source, target in pairs}

    for stage in RULES_STAGES:
        env = services[stage]["environment"]
        assert host_dirs(services[stage])[env["WATCHFLOOR_RULES"]] == "rules/packs", stage
    ingest_env = services["ingest"]["environment"]
    feeds = Path(ingest_env["WATCHFLOOR_FEEDS"])
    assert host_dirs(services["ingest"])[feeds.parent.as_posix()] == "ingest/samples"
    assert (REPO / "ingest" / "samples" / feeds.name).is_file()
    assert "WATCHFLOOR_RULES" not in services["notify"]["environment"]
    # The Apprise config is a compose secret, never an environment value or a bind mount.
    for stage in APPRISE_STAGES:
        secrets = services[stage].get("secrets", [])
        assert all(s["source"] in doc["secrets"] for s in secrets), stage
        assert not any("apprise" in v for v in services[stage].get("volumes", []) if isinstance(v, str)), stage


# --------------------------------------------------------------------------- the Apprise config (tag check)


def test_compose_gives_the_apprise_secret_to_process_alert_and_notify() -> None:
    doc = compose()
    services = doc["services"]
    sources = set()
    for stage in APPRISE_STAGES:
        service = services[stage]
        secret = next((s for s in service.get("secrets", []) if isinstance(s, dict)), None)
        assert secret, f"compose service {stage} has no Apprise secret"
        assert secret["source"] in doc["secrets"]
        assert service["environment"]["WATCHFLOOR_APPRISE_CONFIG"] == f"/run/secrets/{secret['target']}", stage
        assert Path(secret["target"]).suffix in (".yaml", ".yml", ".txt")  # Apprise picks the format from it
        sources.add(secret["source"])
    assert len(sources) == 1, "process, alert and notify must check against the channels notify delivers to"
    ingest = services["ingest"]
    assert "WATCHFLOOR_APPRISE_CONFIG" not in ingest["environment"] and not ingest.get("secrets")


def test_k8s_mounts_the_apprise_secret_read_only_for_process_alert_and_notify() -> None:
    for stage in APPRISE_STAGES:
        pod = deployment(stage)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        volume = next((v for v in pod["volumes"] if "secret" in v), None)
        assert volume and volume["secret"]["secretName"] == "watchfloor-apprise", stage
        mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
        assert mount.get("readOnly") is True, stage
        config = Path(env_of(container)["WATCHFLOOR_APPRISE_CONFIG"])
        assert config.parent.as_posix() == mount["mountPath"], stage
        assert config.suffix in (".yaml", ".yml", ".txt"), stage
        items = volume["secret"].get("items")
        assert items is None or config.name in {i["path"] for i in items}, stage
    (ingest,) = deployment("ingest")["spec"]["template"]["spec"]["containers"]
    assert "WATCHFLOOR_APPRISE_CONFIG" not in env_of(ingest)
    assert not any("secret" in v for v in deployment("ingest")["spec"]["template"]["spec"]["volumes"])


def test_systemd_hands_the_apprise_credential_to_process_alert_and_notify() -> None:
    sources = set()
    for stage in STAGES:
        service = unit_file(DEPLOY / "systemd" / f"watchfloor-{stage}.service")["Service"]
        credentials = service.get("LoadCredential", [])
        if stage not in APPRISE_STAGES:
            assert not credentials, stage
            assert not any(e.startswith("WATCHFLOOR_APPRISE_CONFIG=") for e in service.get("Environment", [])), stage
            continue
        (credential,) = credentials
        name, _, source = credential.partition(":")
        assert f"WATCHFLOOR_APPRISE_CONFIG=%d/{name}" in service["Environment"], stage
        assert Path(name).suffix in (".yaml", ".yml", ".txt"), stage
        sources.add(source)
    assert sources == {"/etc/watchfloor/apprise.yaml"}
    env_file = (DEPLOY / "systemd" / "watchfloor.env.example").read_text(encoding="utf-8")
    assert not re.search(r"^\s*WATCHFLOOR_APPRISE_CONFIG\s*=", env_file, re.MULTILINE)


def test_the_tryout_apprise_config_passes_the_tag_check_of_the_shipped_rules(tmp_path: Path) -> None:
    """process and alert refuse to start when an alert rule names a tag no Apprise URL has: the
    try-out config of the compose file and deploy/README.md must carry the shipped packs' tags.
    Checked as process and alert do it (rules.reload.live_rules), in a fresh interpreter, so no
    plugin registered by another test's import helps."""
    config = tmp_path / "apprise.yaml"
    config.write_text(tryout_apprise_config(), encoding="utf-8")
    assert tryout_apprise_config() in (DEPLOY / "README.md").read_text(encoding="utf-8").replace("\\n", "\n")
    script = ("from core.settings import Settings; from rules.reload import live_rules; "
              "live_rules(Settings.from_env())")
    env = {**os.environ, "WATCHFLOOR_APPRISE_CONFIG": str(config), "WATCHFLOOR_RULES": str(REPO / "rules" / "packs")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def _docker_compose() -> list[str] | None:
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cmd[0]) is None:
            continue
        try:
            version = subprocess.run([*cmd, "version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        old = re.search(r"version v?(\d+)\.", version.stdout, re.IGNORECASE)
        if version.returncode == 0 and not (old and int(old.group(1)) < 2):  # v1 lacks the compose spec
            return cmd
    return None


def test_compose_config_validates_with_docker_compose(tmp_path: Path) -> None:
    cmd = _docker_compose()
    if cmd is None:
        pytest.skip("docker compose v2 is not installed")
    apprise = tmp_path / "apprise.yaml"
    apprise.write_text(tryout_apprise_config())
    env = {**os.environ, "WATCHFLOOR_APPRISE_FILE": str(apprise)}
    result = subprocess.run([*cmd, "-f", str(DEPLOY / "docker-compose.yml"), "config", "--quiet"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- Kubernetes


def test_k8s_manifests_parse_and_have_the_expected_objects() -> None:
    kinds: dict[str, set[str]] = {}
    for path, doc in k8s_docs():
        assert {"apiVersion", "kind", "metadata"} <= set(doc), path
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "watchfloor", (path, doc["metadata"]["name"])
        kinds.setdefault(doc["kind"], set()).add(doc["metadata"]["name"])
    assert kinds["Namespace"] == {"watchfloor"}
    assert kinds["Deployment"] == {f"watchfloor-{stage}" for stage in STAGES}
    assert {"watchfloor-env", "watchfloor-feeds", "watchfloor-prometheus-rules"} <= kinds["ConfigMap"]
    assert {"watchfloor-process", "watchfloor-alert"} <= kinds["PodDisruptionBudget"]
    # No Services: nothing connects to the stages but Prometheus, which scrapes the pods.
    # If one is added, it must be there for every stage alike.
    services = kinds.get("Service", set())
    assert not services or services == {f"watchfloor-{stage}" for stage in STAGES}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_k8s_deployment_probes_metrics_port_and_resources(stage: str) -> None:
    port = STAGES[stage]
    spec = deployment(stage)["spec"]
    pod = spec["template"]
    assert spec["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["spec"]["containers"]
    assert container["args"] == [stage]
    assert env_of(container)["WATCHFLOOR_METRICS_PORT"] == str(port)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path, (stage, probe)
        assert ports.get(get["port"], get["port"]) == port, (stage, probe)
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), (stage, kind)
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True


def test_k8s_replicas_respect_the_partition_counts() -> None:
    from core.topics import Topics

    ingest, process, alert, notify = (deployment(s)["spec"] for s in ("ingest", "process", "alert", "notify"))
    assert ingest["replicas"] == 1 and ingest["strategy"]["type"] == "Recreate"  # one ingest per feeds file
    topics = Topics()
    partitions = {s.name: s.partitions for s in topics.specs()}
    assert 2 <= process["replicas"] <= partitions[topics.raw]
    assert 1 <= alert["replicas"] <= partitions[topics.alerting_work]
    assert 1 <= notify["replicas"] <= partitions[topics.alerts]
    # The PodDisruptionBudgets must let a drain go on: never all of a Deployment's pods required.
    for name, pdb in k8s_objects("PodDisruptionBudget").items():
        spec = deployment(name.removeprefix("watchfloor-"))["spec"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items(), name
        assert pdb["spec"].get("maxUnavailable", 0) >= 1 or pdb["spec"].get("minAvailable", spec["replicas"]) < spec["replicas"], name


def test_k8s_rules_configmap_and_apprise_secret_are_mounted_and_documented() -> None:
    for stage in RULES_STAGES:
        pod = deployment(stage)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        rules_volume = next(v for v in pod["volumes"] if "configMap" in v and v["configMap"]["name"] == "watchfloor-rules")
        mount = next(m for m in container["volumeMounts"] if m["name"] == rules_volume["name"])
        assert mount.get("readOnly") is True, stage
        assert env_of(container)["WATCHFLOOR_RULES"] == mount["mountPath"] + "/..data", stage

    (container,) = deployment("notify")["spec"]["template"]["spec"]["containers"]
    config = env_of(container)["WATCHFLOOR_APPRISE_CONFIG"]
    assert "WATCHFLOOR_RULES" not in env_of(container)

    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "create configmap watchfloor-rules --from-file=rules/packs/" in readme
    assert f"create secret generic watchfloor-apprise --from-file={Path(config).name}=" in readme


def test_no_stage_keeps_state_on_local_disk() -> None:
    """State lives in Kafka topics; WATCHFLOOR_DATA_DIR is only for `watchfloor run`'s embedded
    broker. No PersistentVolume, no compose volume and no systemd state directory for a stage."""
    for stage in STAGES:
        pod = deployment(stage)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert "WATCHFLOOR_DATA_DIR" not in env_of(container), stage
        assert not any("persistentVolumeClaim" in v or "hostPath" in v for v in pod["volumes"]), stage
        service = compose()["services"][stage]
        assert "WATCHFLOOR_DATA_DIR" not in service["environment"], stage
        named = [v for v in service.get("volumes", []) if isinstance(v, str) and not v.startswith((".", "/"))]
        assert not named, (stage, named)
        unit = unit_file(DEPLOY / "systemd" / f"watchfloor-{stage}.service")["Service"]
        assert not any(e.startswith("WATCHFLOOR_DATA_DIR=") for e in unit.get("Environment", [])), stage
        assert "StateDirectory" not in unit, stage


def test_rules_load_from_a_configmap_volume_through_its_data_folder(tmp_path: Path) -> None:
    """kubelet's ConfigMap layout: files in a hidden timestamped folder, `..data` pointing at it,
    and symlinks to `..data/<file>` at the top. The process reads `<mount>/..data`."""
    from rules.loader import load_rules

    revision = tmp_path / "..2025_11_26_00_00_00.123456789"
    revision.mkdir()
    for pack in (REPO / "rules" / "packs").glob("*.yaml"):
        shutil.copy(pack, revision / pack.name)
    (tmp_path / "..data").symlink_to(revision.name)
    for pack in revision.iterdir():
        (tmp_path / pack.name).symlink_to(Path("..data") / pack.name)
    direct = load_rules(REPO / "rules" / "packs", run_tests=False)
    mounted = load_rules(tmp_path / "..data", run_tests=False)
    assert mounted.category_ids == direct.category_ids


def test_k8s_feeds_configmap_is_a_valid_feeds_file(tmp_path: Path) -> None:
    from ingest.feeds import load_feeds

    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(k8s_objects("ConfigMap")["watchfloor-feeds"]["data"]["feeds.yaml"], encoding="utf-8")
    assert load_feeds(feeds)


# --------------------------------------------------------------------------- systemd


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_systemd_unit_per_stage(stage: str) -> None:
    unit = unit_file(DEPLOY / "systemd" / f"watchfloor-{stage}.service")
    service = unit["Service"]
    assert service["Restart"] == ["always"]
    assert service["EnvironmentFile"] == ["/etc/watchfloor/watchfloor.env"]
    assert service["ExecStart"][0].split()[-1] == stage
    assert service["ExecStart"][0].split()[0].endswith("/watchfloor")
    assert f"WATCHFLOOR_METRICS_PORT={STAGES[stage]}" in service["Environment"]
    for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                       ("DynamicUser", "yes")):
        assert service.get(key) == [value], (stage, key)
    assert "multi-user.target" in unit["Install"]["WantedBy"]
    credentials = service.get("LoadCredential", [])
    if stage in APPRISE_STAGES:
        (credential,) = credentials
        name = credential.split(":")[0]
        assert f"WATCHFLOOR_APPRISE_CONFIG=%d/{name}" in service["Environment"]
    else:
        assert not credentials
    if stage in RULES_STAGES:  # one Python worker uses one core at most
        assert service.get("CPUQuota") == ["100%"], stage


def test_systemd_env_file_example_sets_the_shared_settings_only() -> None:
    values = {}
    for line in (DEPLOY / "systemd" / "watchfloor.env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    # WATCHFLOOR_RULES here: process and alert must read the same rules.
    assert {"WATCHFLOOR_KAFKA_BOOTSTRAP", "WATCHFLOOR_TOPIC_PREFIX", "WATCHFLOOR_FEEDS", "WATCHFLOOR_RULES"} <= set(values)
    # Per-unit settings: an EnvironmentFile would override the units' Environment= lines.
    assert not {"WATCHFLOOR_METRICS_PORT", "WATCHFLOOR_DATA_DIR", "WATCHFLOOR_APPRISE_CONFIG"} & set(values)


def test_systemd_units_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None or not Path("/lib/systemd/system").is_dir():
        pytest.skip("systemd-analyze is not installed")
    root = tmp_path / "root"
    shutil.copytree("/lib/systemd/system", root / "lib/systemd/system", symlinks=True)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    exe = root / "opt/watchfloor/venv/bin/watchfloor"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    names = []
    for stage in STAGES:
        shutil.copy(DEPLOY / "systemd" / f"watchfloor-{stage}.service", units)
        names.append(f"watchfloor-{stage}.service")
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", *names],
                            capture_output=True, text=True, cwd=units, timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if "watchfloor-" in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


# --------------------------------------------------------------------------- Grafana and Prometheus


def test_grafana_dashboard_parses_and_uses_only_metrics_the_code_defines() -> None:
    dash = dashboard()
    assert dash["uid"] and dash["title"]
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    missing = unknown_metrics(exprs, code_metric_names())
    assert not missing, f"dashboard uses metrics no code defines: {sorted(missing)}"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))


def test_grafana_dashboard_covers_the_operational_views() -> None:
    used = set().union(*(metric_names_in(e) for e in dashboard_exprs()))
    for name in ("watchfloor_consumer_lag", "watchfloor_end_to_end_seconds_bucket",
                 "watchfloor_notify_deliveries_total", "watchfloor_alerts_fired_total",
                 "watchfloor_alerts_suppressed_total", "watchfloor_rule_reloads_total",
                 "watchfloor_category_matches_total", "watchfloor_headlines_ingested_total",
                 "watchfloor_processing_dead_total", "watchfloor_transactions_total"):
        assert name in used, name
    assert any("histogram_quantile(0.99" in e for e in dashboard_exprs())


def test_prometheus_alert_rules_use_only_metrics_the_code_defines() -> None:
    rules = prometheus_rules()
    assert {"WatchfloorConsumerLagHigh", "WatchfloorDeliveriesDead", "WatchfloorRuleReloadFailed",
            "WatchfloorMessagesDeadLettered", "WatchfloorTransactionsAborting"} <= {r["alert"] for r in rules}
    missing = unknown_metrics([r["expr"] for r in rules], code_metric_names())
    assert not missing, f"alert rules use metrics no code defines: {sorted(missing)}"
    by_name = {r["alert"]: r for r in rules}
    assert "increase(watchfloor_processing_dead_total[10m])" in by_name["WatchfloorMessagesDeadLettered"]["expr"]
    assert 'outcome="aborted"' in by_name["WatchfloorTransactionsAborting"]["expr"]


def test_deploy_readme_covers_the_stages_transactions_and_their_acls() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for stage, port in STAGES.items():
        assert f"`watchfloor {stage}`" in readme and str(port) in readme, stage
    for text in ("TransactionalId", "<prefix>-processors.", "<prefix>-alerting.", "IDEMPOTENT_WRITE",
                 "isolation.level=read_committed", "<prefix>.alerting.work"):
        assert text in readme, text


# --------------------------------------------------------------------------- docs


def test_operations_guide_links_resolve() -> None:
    guide = REPO / "docs" / "operations.md"
    text = guide.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert any(link.endswith("README.md") for link in local)
    for link in local:
        assert (guide.parent / link).exists(), f"docs/operations.md links to missing {link}"


def test_every_data_file_the_code_reads_is_installed_with_its_package() -> None:
    """`pip install .` (not editable) installs only the package data pyproject.toml lists: a
    data file left out (alerting/lexicon.yaml once was) fails at run time, not at install."""
    import tomllib

    listed = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    installed = {p for package, patterns in listed.items() for pattern in patterns
                 for p in (REPO / package.replace(".", "/")).glob(pattern) if p.is_file()}
    tracked = subprocess.run(["git", "ls-files", "core", "ingest", "processors", "alerting", "rules", "notifiers",
                              "watchfloor"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    build_only = {"watchfloor/console/vendor.sh"}  # fetches the vendored map library; not read at run time
    data = {REPO / f for f in tracked if not f.endswith(".py") and f not in build_only}
    assert not data - installed, sorted(str(p.relative_to(REPO)) for p in data - installed)
