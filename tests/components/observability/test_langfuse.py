def test_prod_langfuse_uses_the_external_clickhouse_with_its_password_from_secrets_manager(plans):
    from tests.helm_values import chart_defaults, unknown_keys

    run = plans("prod").run
    [rel] = [r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("name") == "langfuse"]
    ch = rel.inputs["values"]["clickhouse"]
    assert ch["deploy"] is False and ch["host"] == "clickhouse.prod.internal.example.com"
    assert ch["auth"]["existingSecret"] == "langfuse-clickhouse" and ch["cluster"] == {"enabled": False}
    assert unknown_keys({"clickhouse": ch}, chart_defaults("langfuse")) == []
    synced = [
        r.inputs
        for r in run.kubernetes_objects()
        if r.inputs["kind"] == "ExternalSecret" and r.inputs["metadata"]["name"] == "langfuse-clickhouse"
    ]
    assert [s["metadata"]["namespace"] for s in synced] == ["observability"]
    notes = run.outputs.get("plan_notes") or []
    assert not any("install the ClickHouse operator" in n for n in notes)
