"""The shared policy evaluation: what a tenant's entity policies let one client read and write."""

from __future__ import annotations

from types import SimpleNamespace

from cityos_runtime.access_policies import (
    UNLIMITED,
    ClientAccess,
    TenantPolicies,
    TypeRule,
    client_access,
    policies_from_reply,
)


def tenant(*rules: TypeRule, state: str = "active") -> TenantPolicies:
    return TenantPolicies("citya", True, state, rules)


def test_no_rule_naming_the_client_means_unlimited() -> None:
    policies = tenant(TypeRule("other.app", frozenset({"Gauge"}), True, False))
    assert client_access(policies, "citya.app") is UNLIMITED
    assert not client_access(policies, "citya.app").restricted
    assert client_access(tenant(), "citya.app") is UNLIMITED


def test_rules_naming_the_client_or_everyone_limit_types() -> None:
    policies = tenant(
        TypeRule("citya.app", frozenset({"Gauge"}), True, True),
        TypeRule("*", frozenset({"Camera"}), True, False),
        TypeRule("other.app", frozenset({"Secret"}), True, True),
    )
    access = client_access(policies, "citya.app")
    assert access == ClientAccess(frozenset({"Gauge", "Camera"}), frozenset({"Gauge"}), None)
    assert access.restricted


def test_attributes_are_limited_only_when_every_reading_rule_names_some() -> None:
    named = TypeRule("citya.app", frozenset({"Gauge"}), True, False, frozenset({"level"}))
    also = TypeRule("*", frozenset({"Camera"}), True, False, frozenset({"status"}))
    assert client_access(tenant(named, also), "citya.app").read_attrs == frozenset({"level", "status"})
    every = TypeRule("*", frozenset({"Camera"}), True, False)
    assert client_access(tenant(named, every), "citya.app").read_attrs is None


def test_a_write_only_rule_reads_nothing() -> None:
    policies = tenant(TypeRule("citya.app", frozenset({"Gauge"}), False, True))
    access = client_access(policies, "citya.app")
    assert access.read_types == frozenset() and access.write_types == frozenset({"Gauge"})
    assert access.restricted


def test_serving_follows_the_tenant_state() -> None:
    assert tenant().serving and TenantPolicies("x", exists=False).serving
    assert not tenant(state="suspended").serving and not tenant(state="deleted").serving


def test_policies_from_a_reply() -> None:
    reply = SimpleNamespace(
        tenant_state="",
        policies=[
            SimpleNamespace(client_id="a", entity_types=["Gauge"], read=False, write=True, attributes=["x"])
        ],
        public_types=["Stop"],
        grants=[
            SimpleNamespace(grantee="cityb", entity_types=["Gauge"]),
            SimpleNamespace(grantee="cityb", entity_types=["Camera"]),
        ],
    )
    policies = policies_from_reply("citya", reply)
    assert policies.state == "active" and policies.exists
    # write implies read, as the identity service's policies mean it
    assert policies.rules == (TypeRule("a", frozenset({"Gauge"}), True, True, frozenset({"x"})),)
    assert policies.public_types == frozenset({"Stop"})
    assert policies.grants == {"cityb": frozenset({"Gauge", "Camera"})}
