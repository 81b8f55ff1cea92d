"""The mocks the package ships for its consumers' tests (agent_platform.testing); tests/package/test_wheel.py
runs a consumer program under them from the installed wheel."""

from __future__ import annotations

import string

import pulumi
from agent_platform.testing import RANDOM_PASSWORD, STACK_REFERENCE, PlatformMocks, mock_password


def test_a_password_is_what_the_components_ask_for_and_the_same_each_run():
    password = mock_password("postgres-password", 32)
    assert len(password) == 32 and set(password) <= set(string.ascii_letters + string.digits)
    assert password == mock_password("postgres-password", 32) != mock_password("redis-password", 32)


def test_the_mocks_fill_in_what_providers_compute_and_record_each_registration():
    mocks = PlatformMocks(stack_outputs={"org/cluster/prod": {"kubeconfig": "apiVersion: v1"}})
    _, out = mocks.new_resource(
        pulumi.runtime.MockResourceArgs(RANDOM_PASSWORD, "postgres-password", {"length": 32}, "", "", None)
    )
    assert out["result"] == mock_password("postgres-password", 32) and out["length"] == 32
    _, ref = mocks.new_resource(
        pulumi.runtime.MockResourceArgs(STACK_REFERENCE, "org/cluster/prod", {"name": "org/cluster/prod"}, "", "", None)
    )
    assert ref["outputs"] == {"kubeconfig": "apiVersion: v1"}
    assert [(r.type, r.name) for r in mocks.resources] == [
        (RANDOM_PASSWORD, "postgres-password"),
        (STACK_REFERENCE, "org/cluster/prod"),
    ]
