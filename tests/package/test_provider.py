"""The component provider, driven as the engine drives a Python plugin.

The engine starts a source-based plugin as `python <plugin dir> <engine address>` and reads
its port from the first line of stdout (pulumi/pulumi sdk/go/common/resource/plugin/plugin.go
execPlugin / newPlugin). It then calls GetSchema, and Construct with the address of its
resource monitor, which the provider dials to register the component's children. Here a
small gRPC server implements the two engine services the provider calls (Engine for logs
and the root resource, ResourceMonitor for registrations; pulumi/proto/pulumi/engine.proto
and resource.proto), answering as the engine does, and records what was registered.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from concurrent import futures

import agent_platform
import grpc
import jsonschema
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    provider_pb2,
    provider_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
)

from preview import sdk_internals
from tests.conftest import ROOT
from tests.package.conftest import clean_env

METASCHEMA = ROOT / "tests" / "fixtures" / "schemas" / "pulumi-package.schema.json"
PROJECT, STACK = "consumer", "dev"


class Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.logs: list[str] = []

    def Log(self, request, context):  # noqa: N802
        self.logs.append(request.message)
        return empty_pb2.Empty()

    def GetRootResource(self, request, context):  # noqa: N802
        return engine_pb2.GetRootResourceResponse(urn="")

    def SetRootResource(self, request, context):  # noqa: N802
        return engine_pb2.SetRootResourceResponse()


class Monitor(resource_pb2_grpc.ResourceMonitorServicer):
    """Registers what it is sent and answers with the URN the engine would give (parent type chain)."""

    FEATURES = {"secrets", "resourceReferences"}

    def __init__(self) -> None:
        self.registered: list[resource_pb2.RegisterResourceRequest] = []
        self.types: dict[str, str] = {}
        self.lock = threading.Lock()

    def GetDeploymentInfo(self, request, context):  # noqa: N802
        # What today's engine answers first (the SDK falls back to SupportsFeature per feature).
        return resource_pb2.DeploymentInfo(
            supportedFeatures=[
                resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS,
                resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES,
            ]
        )

    def SupportsFeature(self, request, context):  # noqa: N802
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id in self.FEATURES)

    def RegisterResource(self, request, context):  # noqa: N802
        qualified = request.type
        if request.parent in self.types:
            qualified = f"{self.types[request.parent]}${request.type}"
        urn = f"urn:pulumi:{STACK}::{PROJECT}::{qualified}::{request.name}"
        with self.lock:
            self.types[urn] = qualified
            self.registered.append(request)
        return resource_pb2.RegisterResourceResponse(
            urn=urn, id=f"{request.name}-id" if request.custom else "", object=request.object
        )

    def RegisterResourceOutputs(self, request, context):  # noqa: N802
        return empty_pb2.Empty()


@pytest.fixture(scope="module")
def provider(installed, tmp_path_factory):
    engine, monitor = Engine(), Monitor()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    engine_pb2_grpc.add_EngineServicer_to_server(engine, server)
    resource_pb2_grpc.add_ResourceMonitorServicer_to_server(monitor, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    plugin_dir = tmp_path_factory.mktemp("plugins") / "agent-platform"
    shutil.copytree(ROOT / "components" / "provider", plugin_dir)
    # The fresh environment with the wheel: the plugin imports the installed package.
    process = subprocess.Popen(
        [str(installed.python), str(plugin_dir), f"127.0.0.1:{port}"],
        cwd=plugin_dir,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        assert line.isdigit(), (line, process.stderr.read() if process.poll() is not None else "")
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        yield provider_pb2_grpc.ResourceProviderStub(channel), monitor, f"127.0.0.1:{port}"
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.stop(None)


def _pattern(validator, pattern, instance, schema):
    # The metaschema's patterns are ECMA-262 regexes (as JSON Schema says) with named groups
    # `(?<name>...)`; Python's re spells them `(?P<name>...)`. Nothing else in them differs.
    if isinstance(instance, str) and not re.search(pattern.replace("(?<", "(?P<"), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


MetaValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})


def _metaschema_errors(schema: dict) -> list:
    validator = MetaValidator(json.loads(METASCHEMA.read_text()))
    return sorted(validator.iter_errors(schema), key=lambda e: list(e.path))


def _schema(stub) -> dict:
    return json.loads(stub.GetSchema(provider_pb2.GetSchemaRequest(version=0)).schema)


def test_schema_validates_against_the_package_metaschema_and_lists_every_component(provider):
    stub, _, _ = provider
    schema = _schema(stub)
    errors = _metaschema_errors(schema)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert schema["name"] == "agent-platform" and schema["version"] == agent_platform.__version__
    assert set(schema["resources"]) == {f"agent-platform:index:{c.__name__}" for c in agent_platform.COMPONENTS}
    service = schema["resources"]["agent-platform:index:AgentService"]
    assert service["isComponent"] is True
    assert set(service["requiredInputs"]) == {"name", "image", "namespace", "environment"}
    # Settings the component decides structure from are plain; wiring another resource may produce is not.
    assert service["inputProperties"]["kind"].get("plain") is True
    assert "plain" not in service["inputProperties"]["namespace"]
    assert service["inputProperties"]["resources"]["$ref"] == "#/types/agent-platform:index:ResourcesArgs"
    assert "serviceName" in service["properties"]


def test_the_provider_serves_the_package_installed_under_its_distribution_name(provider, installed):
    """The plugin runs on the wheel installed as agent-platform-components (not PyPI's unrelated
    `agent-platform`), and its schema's version is that distribution's. The Pulumi package name,
    the type tokens' prefix, is still `agent-platform`: renaming it changes every URN."""
    stub, _, _ = provider
    version = subprocess.run(
        [str(installed.python), "-c", "import importlib.metadata as m; print(m.version('agent-platform-components'))"],
        env=clean_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert _schema(stub)["version"] == version == agent_platform.__version__


def test_the_metaschema_rejects_a_broken_schema(provider):
    """The validation above can fail: a resource without its type token's shape is refused."""
    stub, _, _ = provider
    schema = _schema(stub)
    schema["resources"]["agent-platform:index:AgentService"]["inputProperties"]["kind"]["type"] = "text"
    assert _metaschema_errors(schema)
    schema = _schema(stub)
    schema["version"] = "one"
    assert _metaschema_errors(schema)


def _struct(values: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(values)
    return s


def test_construct_agent_service_registers_its_children(provider):
    stub, monitor, address = provider
    secret = {sdk_internals.SIG_KEY: sdk_internals.SECRET_SIG, "value": "sk-from-the-caller"}
    inputs = _struct(
        {
            "name": "agent-api",
            "image": "ghcr.io/example/agent-api:1.4.2",
            "namespace": "agents-dev",
            "environment": "dev",
            "secretEnv": {"OPENAI_API_KEY": "openaiApiKey"},
            "secretValues": {"openaiApiKey": secret},
            "autoscaling": {"minReplicas": 2, "maxReplicas": 4},
            "backends": [
                {
                    "store": "postgres",
                    "envName": "DATABASE_URL",
                    "secretName": "postgres-connection",
                    "port": 5432,
                    "inCluster": True,
                }
            ],
        }
    )
    response = stub.Construct(
        provider_pb2.ConstructRequest(
            project=PROJECT,
            stack=STACK,
            dryRun=False,
            monitorEndpoint=address,
            type="agent-platform:index:AgentService",
            name="agent-api",
            inputs=inputs,
        ),
        timeout=120,
    )
    assert response.urn.endswith("::agent-api")
    component = [r for r in monitor.registered if r.type == "agent-platform:k8s:AgentService"]
    assert len(component) == 1
    children = {r.type: r for r in monitor.registered if r.parent == response.urn}
    assert set(children) == {
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:core/v1:Secret",
        "kubernetes:apps/v1:Deployment",
        "kubernetes:core/v1:Service",
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "kubernetes:policy/v1:PodDisruptionBudget",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    }
    deployment = json.loads(json.dumps(rpc_dict(children["kubernetes:apps/v1:Deployment"].object)))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False  # the secure defaults came along
    assert {e["name"] for e in container["env"]} == {"DATABASE_URL", "OPENAI_API_KEY"}
    assert deployment["metadata"]["namespace"] == "agents-dev"
    # The caller's secret reaches the Secret still marked secret.
    secret_data = children["kubernetes:core/v1:Secret"].object.fields["stringData"]
    assert sdk_internals.SECRET_SIG in json.dumps(rpc_dict(secret_data.struct_value))
    assert json.loads(json.dumps(rpc_dict(response.state)))["serviceName"] == "agent-api"


def test_construct_reports_a_missing_required_input(provider):
    stub, _, address = provider
    with pytest.raises(grpc.RpcError) as error:
        stub.Construct(
            provider_pb2.ConstructRequest(
                project=PROJECT,
                stack=STACK,
                monitorEndpoint=address,
                type="agent-platform:index:AgentService",
                name="broken",
                inputs=_struct({"name": "broken", "namespace": "agents-dev", "environment": "dev"}),
            ),
            timeout=60,
        )
    # The provider answers InvalidArgument with the property path in the status details
    # (pulumi/provider/server.py create_grpc_invalid_properties_status), which the engine shows.
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = dict(error.value.trailing_metadata() or ())["grpc-status-details-bin"]
    assert b"Missing required input 'image' on 'AgentService'" in details


def rpc_dict(struct: struct_pb2.Struct) -> dict:
    from google.protobuf import json_format

    return json_format.MessageToDict(struct)
