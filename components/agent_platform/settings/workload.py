"""An agent service's workload knobs: autoscaling, probes, drain, ingress paths, volumes, containers, jobs, rollout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    Field,
    model_validator,
)

from agent_platform.settings.base import Model
from agent_platform.settings.errors import check, rule, shown
from agent_platform.settings.pod import ResourceAmounts, Resources
from agent_platform.settings.values import (
    CronSchedule,
    DnsLabel,
    EnvName,
    HttpPath,
    Image,
    Int,
    ObjectName,
    Percent,
    PlainText,
    Port,
    Quantity,
    TimeZone,
    whole_number,
)


class Keda(Model):
    """Scaling on pending work instead of CPU: agent runs wait on an LLM, so CPU says little."""

    trigger: Literal["postgres", "redis"] = Field(
        "postgres", description="`postgres`: the result of `query`; `redis`: the length of the list `listName`."
    )
    query: str = Field(
        "SELECT count(*) FROM runs WHERE status = 'running'",
        min_length=1,
        description="postgres: a query returning the amount of work (the reference app's runs in flight).",
    )
    list_name: str = Field("agent:runs:pending", min_length=1, description="redis: the list holding queued runs.")
    target_value: Int = Field(20, ge=1, description="Work per pod to hold (runs per replica).")
    polling_interval_seconds: Int = Field(15, ge=1, le=3600, description="How often KEDA asks.")
    operator_namespace: DnsLabel = Field(
        "keda", description="Namespace of the KEDA operator, which the data store's NetworkPolicy admits to ask."
    )


class Autoscaling(Model):
    enabled: bool = Field(
        True, description="Declare a HorizontalPodAutoscaler (autoscaling/v2); spec.replicas is then left to it."
    )
    engine: Literal["hpa", "keda"] = Field(
        "hpa",
        description="`hpa`: a HorizontalPodAutoscaler on CPU, memory or a pods metric; `keda`: a KEDA ScaledObject on "
        "pending runs (KEDA's own HPA, the same bounds and behaviour).",
    )
    keda: Keda = Field(Keda(), description="engine keda: the trigger.")
    min_replicas: Int = Field(3, ge=1, description="Lower bound of the HPA.")
    max_replicas: Int = Field(10, ge=1, description="Upper bound of the HPA.")
    target_cpu_percent: Percent | None = Field(70, description="Average CPU utilisation (of requests) to hold.")
    target_memory_percent: Percent | None = Field(None, description="Average memory utilisation (of requests) to hold.")
    pods_metric: PodsMetric | None = Field(
        None, description="A custom per-pod metric (e.g. in-flight streams) from a metrics adapter."
    )
    scale_down_stabilization_seconds: Int = Field(
        300, ge=0, le=3600, description="How long the HPA waits before removing pods; long for streaming."
    )

    @check
    def _bounds(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise rule("minReplicas", f"must be <= maxReplicas ({self.min_replicas} > {self.max_replicas})")
        if (
            self.enabled
            and self.engine == "hpa"
            and not (self.target_cpu_percent or self.target_memory_percent or self.pods_metric)
        ):
            raise rule("targetCpuPercent", "an enabled autoscaler needs at least one metric")
        return self


class PodsMetric(Model):
    name: str = Field(description="Metric name as served by the custom metrics API.")
    target_average_value: Quantity = Field(description="Per-pod average to hold, e.g. `20`.")


class Probe(Model):
    path: str = Field(pattern=r"^/", description="HTTP path.")
    initial_delay_seconds: Int = Field(0, ge=0, description="Wait before the first check.")
    period_seconds: Int = Field(10, ge=1, description="Seconds between checks.")
    timeout_seconds: Int = Field(2, ge=1, description="Seconds before a check counts as failed.")
    failure_threshold: Int = Field(3, ge=1, description="Consecutive failures before acting.")


class Probes(Model):
    port: Port | None = Field(None, description="Port the probes hit; default the service port.")
    liveness: Probe = Field(
        Probe(path="/healthz", period_seconds=10, failure_threshold=3),
        description="Restart the container when this fails (alive).",
    )
    readiness: Probe = Field(
        Probe(path="/readyz", period_seconds=5, failure_threshold=2),
        description="Take the pod out of the Service when this fails (ready for traffic).",
    )
    startup: Probe = Field(
        Probe(path="/healthz", period_seconds=5, failure_threshold=30),
        description="Hold the other probes until the app has started (slow model warm-up).",
    )

    docker_command: list[PlainText] | None = Field(
        None,
        min_length=1,
        description="Docker host: the health check's command instead of the default, which fetches the liveness path "
        "with `python` (for an image without python, e.g. `[wget, -qO-, http://127.0.0.1:8000/live]`); Kubernetes "
        "keeps the HTTP probes.",
    )

    @check
    def _distinct(self) -> Probes:
        if self.liveness == self.readiness:
            raise rule("readiness", "must differ from liveness: identical probes restart pods that are only busy")
        return self


# Environment the platform sets on every agent container; a stack's env must not override it.
# The data stores' URLs join it under the names each service gives (reserved_env).
RESERVED_ENV = {
    "PORT": "the port the probes and the Service target, from `port`",
    "METRICS_PORT": "the metrics port, from `monitoring.port`",
}


DRAIN_MARGIN_SECONDS = 10  # the app's other shutdown steps and its exit, within the grace period


class Drain(Model):
    pre_stop_seconds: Int = Field(
        10, ge=0, le=120, description="Sleep before SIGTERM so endpoints drop the pod before it stops accepting."
    )
    termination_grace_seconds: Int = Field(
        120, ge=1, le=7200, description="Time from SIGTERM to SIGKILL: long enough to finish streaming responses."
    )

    budget_env: EnvName | None = Field(
        None,
        description="A variable the app reads its drain budget from, in seconds (e.g. Aegra's `WORKER_DRAIN_TIMEOUT`): "
        f"terminationGraceSeconds - preStopSeconds - {DRAIN_MARGIN_SECONDS} s to exit, so the app stops waiting "
        "for in-flight work before the platform kills it.",
    )

    def budget_seconds(self) -> int:
        """What is left of the grace period for in-flight work once preStop has slept, less the
        time the process needs to exit after its drain: SIGKILL comes at terminationGraceSeconds."""
        return max(1, self.termination_grace_seconds - self.pre_stop_seconds - DRAIN_MARGIN_SECONDS)

    @check
    def _room(self) -> Drain:
        if self.termination_grace_seconds <= self.pre_stop_seconds:
            raise rule(
                "terminationGraceSeconds",
                f"must exceed preStopSeconds ({self.termination_grace_seconds} <= {self.pre_stop_seconds}) or the app "
                "never drains",
            )
        return self


class ConnectionEnv(Model):
    """Names of the variables the app reads its data stores' URLs from."""

    database: EnvName = Field(
        "DATABASE_URL", description="The Postgres URL's variable (LangGraph's own server reads `DATABASE_URI`)."
    )
    redis: EnvName = Field("REDIS_URL", description="The Redis URL's variable (LangGraph's server: `REDIS_URI`).")

    @check
    def _distinct(self) -> ConnectionEnv:
        if self.database == self.redis:
            raise rule("redis", f"must differ from database ({shown(self.redis)}): one variable cannot hold both URLs")
        return self


class ServiceIngress(Model):
    enabled: bool = Field(True, description="Route external traffic to this service through the stack's Ingress.")
    paths: list[HttpPath] = Field(["/"], min_length=1, description="Path prefixes routed here.")


class ExtraVolume(Model):
    """A pod volume of a kind the restricted Pod Security Standard allows (never hostPath). Sources as
    here or as in a pod manifest (`configMap: {name: x}`, `secret: {secretName: x}`,
    `emptyDir: {sizeLimit: 64Mi}`, `persistentVolumeClaim: {claimName: x}`)."""

    @model_validator(mode="before")
    @classmethod
    def _manifest(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        values = dict(values)
        for key, inner in (
            ("configMap", "name"),
            ("secret", "secretName"),
            ("emptyDir", "sizeLimit"),
            ("persistentVolumeClaim", "claimName"),
        ):
            ref = values.get(key)
            if isinstance(ref, dict) and set(ref) == {inner}:
                values[key] = ref[inner]
        return values

    name: DnsLabel = Field(description="Volume name (not `tmp` or `data`, which the platform uses).")
    config_map: ObjectName | None = Field(None, description="An existing ConfigMap, as files.")
    secret: ObjectName | None = Field(None, description="An existing Secret, as files (mode 0440).")
    empty_dir: Quantity | None = Field(None, description="Scratch space of at most this size (`64Mi`).")
    persistent_volume_claim: ObjectName | None = Field(None, description="An existing PersistentVolumeClaim.")

    @check
    def _one(self) -> ExtraVolume:
        given = [
            k for k in ("config_map", "secret", "empty_dir", "persistent_volume_claim") if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise rule("configMap", "set exactly one of configMap, secret, emptyDir, persistentVolumeClaim")
        if self.name in ("tmp", "data"):
            raise rule("name", f"{shown(self.name)} is used by the platform")
        return self


class VolumeMountSettings(Model):
    name: DnsLabel = Field(description="A volume of `extraVolumes` (or `tmp`, the pod's scratch space).")
    mount_path: str = Field(pattern=r"^/", description="Where it is mounted.")
    read_only: bool = Field(True, description="Mount read-only (default: writes go to emptyDirs only).")


class SidecarProbe(Model):
    path: str | None = Field(None, pattern=r"^/", description="HTTP GET path (with `port`).")
    port: Port | None = Field(None, description="Port of the HTTP check.")
    command: list[PlainText] | None = Field(None, min_length=1, description="A command instead of HTTP.")

    @check
    def _one(self) -> SidecarProbe:
        if (self.command is None) == (self.path is None or self.port is None):
            raise rule("path", "set path and port (HTTP), or command")
        return self


class ExtraContainer(Model):
    """A container beside the app (sidecar) or before it (init container), with the same
    hardening: the service's non-root identity, read-only root filesystem, no privilege
    escalation, ALL capabilities dropped, seccomp RuntimeDefault, requests and limits."""

    name: DnsLabel = Field(description="Container name (not `app`).")
    image: Image = Field(description="Image with a tag and/or digest; never `latest`.")
    command: list[PlainText] | None = Field(None, description="Overrides the image ENTRYPOINT.")
    args: list[PlainText] | None = Field(None, description="Overrides the image CMD.")
    env: dict[EnvName, PlainText] = Field(
        {}, description="Plain environment (never secrets; use extraVolumes with a Secret)."
    )
    resources: Resources = Field(
        Resources(
            requests=ResourceAmounts(cpu="50m", memory="64Mi"), limits=ResourceAmounts(cpu="200m", memory="128Mi")
        ),
        description="CPU and memory requests and limits.",
    )
    volume_mounts: list[VolumeMountSettings] = Field([], description="Volumes it mounts.")
    probe: SidecarProbe | None = Field(
        None,
        description="Sidecars: the health check (liveness and readiness are derived from it); required for a sidecar, "
        "unused for an init container.",
    )

    @check
    def _name(self) -> ExtraContainer:
        if self.name == "app":
            raise rule("name", "'app' is the service's own container")
        return self


class Migration(Model):
    """A one-shot Job (a one-shot container on a Docker host) that migrates the database before the new
    version rolls out."""

    enabled: bool = Field(
        False,
        description="Run it: the workload waits for the Job (Docker: the `<name>-migrate` container) to complete, and "
        "a failure stops the rollout.",
    )
    command: list[PlainText] = Field(
        ["python3", "/app/app.py", "migrate"], min_length=1, description="The service image's own migration command."
    )
    args: list[PlainText] | None = Field(None, description="Its arguments.")
    backoff_limit: Int = Field(
        2,
        ge=0,
        le=10,
        description="Retries before the Job, and so the rollout, fails (Kubernetes; Docker does not retry).",
    )
    active_deadline_seconds: Int = Field(600, ge=30, le=86400, description="The longest a migration may run.")
    ttl_seconds_after_finished: Int = Field(
        86400, ge=0, description="How long the finished Job and its pod stay for inspection."
    )


class CheckpointCleanup(Model):
    """A CronJob that deletes old checkpoints."""

    enabled: bool = Field(False, description="Declare the CronJob.")
    schedule: CronSchedule = Field(
        "17 3 * * *",
        description="Cron schedule (five fields, the cluster's time zone unless `timeZone`).",
    )
    time_zone: TimeZone | None = Field(None, description="IANA time zone of the schedule, e.g. `Etc/UTC`.")
    retention_days: Int = Field(30, ge=1, le=3650, description="Checkpoints older than this many days are deleted.")
    command: list[PlainText] = Field(
        ["python3", "/app/app.py", "cleanup-checkpoints"],
        min_length=1,
        description="The image's cleanup command; `--older-than-days N` is appended.",
    )


class Canary(Model):
    image: Image = Field(description="The new image the canary runs.")
    weight: Int = Field(
        10,
        ge=0,
        le=100,
        description="Percent of external requests the canary receives (ingress-nginx `canary-weight`).",
    )
    replicas: Int = Field(
        2,
        ge=1,
        description="Canary pods (fixed; the stable Deployment keeps its autoscaler); two, so the canary survives a "
        "node drain.",
    )


class BlueGreen(Model):
    active: Literal["blue", "green"] = Field("blue", description="The colour the Service sends traffic to.")
    blue_image: Image | None = Field(None, description="Image of the blue Deployment; unset: the service's `image`.")
    green_image: Image | None = Field(None, description="Image of the green Deployment; unset: the service's `image`.")
    idle_replicas: whole_number(ge=0) | None = Field(
        None,
        description="Pods of the idle colour: unset keeps it as large as the active one (an instant switch back); 0 "
        "scales it to zero.",
    )


class Rollout(Model):
    """How a new version reaches the pods. Every step of a release is an edit of these keys."""

    strategy: Literal["rolling", "canary", "blueGreen"] = Field(
        "rolling",
        description="`rolling`: one pod at a time (surge 1, never below capacity); `canary`: a second Deployment "
        "`<name>-canary` takes `canary.weight` percent of external traffic; `blueGreen`: Deployments "
        "`<name>-blue` and `<name>-green`, the Service `<name>` selects the active colour.",
    )
    partition: whole_number(ge=0) | None = Field(
        None,
        description="StatefulSet only: pods with an ordinal >= partition move to the new revision, the others stay (a "
        "staged rollout; lower it step by step to 0).",
    )
    canary: Canary | None = Field(None, description="strategy canary: the canary's image, weight and size.")
    blue_green: BlueGreen | None = Field(
        None, description="strategy blueGreen: the colours' images and the active one."
    )

    @check
    def _complete(self) -> Rollout:
        if self.strategy == "canary" and self.canary is None:
            raise rule("canary", "is required when strategy is canary")
        if self.strategy == "blueGreen" and self.blue_green is None:
            raise rule("blueGreen", "is required when strategy is blueGreen")
        if self.strategy != "canary" and self.canary is not None:
            raise rule(
                "canary", "only applies when strategy is canary (promote: set `image` to the canary's and remove this)"
            )
        if self.strategy != "blueGreen" and self.blue_green is not None:
            raise rule("blueGreen", "only applies when strategy is blueGreen")
        return self


# The second Deployment of a canary release; `-blue`/`-green` (as long) name the colours.
CANARY_SUFFIX = "-canary"


@dataclass(frozen=True)
class ReleaseUnit:
    """One Deployment or StatefulSet a service runs as: the stable one, a canary or a colour. The
    platform, the service, the Ingress and the quota all read a service's units from here."""

    name: str
    image: str
    role: str  # stable | canary | active | idle
    autoscaled: bool
    replicas: int  # when not autoscaled


Autoscaling.model_rebuild()
