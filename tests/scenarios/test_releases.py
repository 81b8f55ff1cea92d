"""Release strategies as config edits: each step of a canary, a blue-green switch and a staged
StatefulSet rollout, classified by the preview (create / update / replace / delete), and the way
back. The program runs for real under the SDK's mocks, as in test_day2."""

from __future__ import annotations

import pytest

from preview.render import render_files
from tests.scenarios.test_day2 import SERVICES, bump, changes, migration_swap, of

NEW_TAG = "1.5.0"


def new_image(cfg) -> str:
    return bump(cfg[SERVICES][0]["image"], NEW_TAG)


def canary(weight: int, image: str = ""):
    def mutate(cfg):
        api = cfg[SERVICES][0]
        api["rollout"] = {"strategy": "canary", "canary": {"image": image or CANARY_IMAGE, "weight": weight}}

    return mutate


CANARY_IMAGE = "registry.example.com/agents/agent-api:1.5.0@sha256:" + "c" * 64
CANARY_OBJECTS = [
    ("Deployment", "agent-api-canary"),
    ("Service", "agent-api-canary"),
    ("NetworkPolicy", "agent-api-canary"),
    ("PodDisruptionBudget", "agent-api-canary"),
    ("Ingress", "agent-api-canary"),
]


def test_canary_starts_beside_the_stable_version_without_touching_it(run):
    got, _ = changes(run, "prod", canary(10))
    assert got == {**{k: "create" for k in CANARY_OBJECTS}, ("ResourceQuota", "quota"): "update"}
    after = run("prod", canary(10))
    ingress = next(r for r in after.declared() if r.inputs.get("kind") == "Ingress" and r.name == "agent-api-canary")
    annotations = ingress.inputs["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/canary"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/canary-weight"] == "10"
    assert "cert-manager.io/cluster-issuer" not in annotations and ingress.inputs["spec"]["tls"][0]["hosts"] == [
        "agents.example.com"
    ]
    deployment = next(
        r for r in after.declared() if r.name == "agent-api-canary" and r.inputs.get("kind") == "Deployment"
    )
    assert deployment.inputs["spec"]["template"]["spec"]["containers"][0]["image"] == CANARY_IMAGE
    assert deployment.inputs["spec"]["replicas"] == 2


@pytest.mark.parametrize("weight", [25, 50, 100])
def test_raising_the_weight_updates_only_the_canary_ingress(run, weight):
    got, _ = changes(run, "prod", canary(weight), base=canary(10))
    assert got == {("Ingress", "agent-api-canary"): "update"}


def test_promotion_deletes_the_canary_and_rolls_the_stable_version(run):
    def promote(cfg):
        api = cfg[SERVICES][0]
        api["image"] = CANARY_IMAGE
        del api["rollout"]

    got, _ = changes(run, "prod", promote, base=canary(100))
    assert migration_swap(got) == {
        **of("agent-api", "prod"),
        **{k: "delete" for k in CANARY_OBJECTS},
        ("ResourceQuota", "quota"): "update",
    }


def test_backing_out_a_canary_deletes_it_and_renders_the_stable_stack_again(run):
    got, _ = changes(run, "prod", lambda cfg: cfg[SERVICES][0].pop("rollout"), base=canary(10))
    assert got == {**{k: "delete" for k in CANARY_OBJECTS}, ("ResourceQuota", "quota"): "update"}
    backed_out = run("prod", lambda cfg: (canary(10)(cfg), cfg[SERVICES][0].pop("rollout")))
    assert render_files(backed_out) == render_files(run("prod"))


def blue_green(active: str, green: str = ""):
    def mutate(cfg):
        api = cfg[SERVICES][0]
        api["rollout"] = {"strategy": "blueGreen", "blueGreen": {"active": active, "greenImage": green or CANARY_IMAGE}}

    return mutate


def test_adopting_blue_green_is_announced_as_a_new_workload(run):
    """rolling -> blueGreen replaces the Deployment by two colours (selectors are immutable): the
    preview lists the delete, so the reviewer sees it is not a routine change."""
    got, _ = changes(run, "prod", blue_green("blue"))
    assert got[("Deployment", "agent-api")] == "delete"
    assert got[("Deployment", "agent-api-blue")] == got[("Deployment", "agent-api-green")] == "create"
    assert got[("Service", "agent-api")] == "update"  # same Service, now selecting the blue pods


def test_blue_green_switch_and_its_rollback_are_one_service_update(run):
    got, _ = changes(run, "prod", blue_green("green"), base=blue_green("blue"))
    assert got == {("Service", "agent-api"): "update"}
    switched = run("prod", blue_green("green"))
    service = next(r for r in switched.declared() if r.inputs.get("kind") == "Service" and r.name == "agent-api")
    assert service.inputs["spec"]["selector"]["app.kubernetes.io/name"] == "agent-api-green"
    # The selecting Service waits for the active colour's rollout.
    green = next(r for r in switched.declared() if r.inputs.get("kind") == "Deployment" and r.name == "agent-api-green")
    assert green.urn in service.dependencies
    back, _ = changes(run, "prod", blue_green("blue"), base=blue_green("green"))
    assert back == {("Service", "agent-api"): "update"}


def test_idle_colour_can_scale_to_zero(run):
    def idle_zero(cfg):
        blue_green("blue")(cfg)
        cfg[SERVICES][0]["rollout"]["blueGreen"]["idleReplicas"] = 0

    after = run("prod", idle_zero)
    green = next(r for r in after.declared() if r.inputs.get("kind") == "Deployment" and r.name == "agent-api-green")
    assert green.inputs["spec"]["replicas"] == 0
    kinds = {(r.inputs.get("kind"), r.name) for r in after.declared()}
    assert ("HorizontalPodAutoscaler", "agent-api-green") not in kinds and (
        "PodDisruptionBudget",
        "agent-api-green",
    ) not in kinds
    assert ("HorizontalPodAutoscaler", "agent-api-blue") in kinds


def test_staged_statefulset_rollout_is_an_in_place_update(run):
    def staged(cfg):
        cfg[SERVICES][1]["rollout"] = {"partition": 5}
        cfg[SERVICES][1]["image"] = bump(cfg[SERVICES][1]["image"], NEW_TAG)

    got, _ = changes(run, "prod", staged)
    assert got == of("agent-runner", "prod")
    after = run("prod", staged)
    sts = next(r for r in after.declared() if r.inputs.get("kind") == "StatefulSet" and r.name == "agent-runner")
    assert sts.inputs["spec"]["updateStrategy"]["rollingUpdate"]["partition"] == 5
    # Lowering the partition to 0 finishes the rollout: still one in-place update of the StatefulSet.
    got, _ = changes(run, "prod", lambda cfg: cfg[SERVICES][1]["rollout"].update(partition=0), base=staged)
    assert got == {("StatefulSet", "agent-runner"): "update"}


def test_bad_release_settings_are_refused_by_key():
    from agent_platform.settings.errors import ConfigError

    from program.stack_config import parse_stack_config
    from tests.conftest import stack_file

    values = {k.split(":", 1)[1]: v for k, v in stack_file("prod")["config"].items()}
    values["services"][0]["rollout"] = {"strategy": "canary"}
    values["services"][1]["rollout"] = {"strategy": "blueGreen", "blueGreen": {}}
    with pytest.raises(ConfigError) as error:
        parse_stack_config(values, "Pulumi.prod.yaml")
    text = str(error.value)
    assert "services[agent-api].rollout.canary: is required when strategy is canary" in text
    assert "services[agent-runner].rollout.strategy: blueGreen needs kind: Deployment" in text


@pytest.mark.parametrize("mutate", [canary(20), blue_green("green")], ids=["canary", "blueGreen"])
def test_release_stacks_validate_and_pass_the_pack(tmp_path, mutate):
    """Mid-release prod (a canary at 20 %, or green active with blue idle at zero) still renders
    valid objects for Kubernetes 1.29 and 1.37 and draws no policy violation at all."""
    import copy
    import json
    import subprocess
    import sys

    import yaml

    from tests.conftest import ROOT, stack_file

    data = copy.deepcopy(stack_file("prod"))
    mutate(data["config"])
    if "blueGreen" in json.dumps(data["config"]):
        data["config"][SERVICES][0]["rollout"]["blueGreen"]["idleReplicas"] = 0
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(data))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "preview",
            "prod",
            "--config-file",
            str(path),
            "--out",
            str(tmp_path / "out"),
            "--k8s-version",
            "1.29,1.37",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    report = json.loads((tmp_path / "out" / "policy-report.json").read_text())
    assert report["violations"] == []
