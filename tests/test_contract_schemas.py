"""The published JSON Schemas are the models: regenerate with `python -m starter.schemas` after changing a contract."""

from starter.schemas import SCHEMA_DIR, rendered


def test_published_schemas_match_the_contract_models():
    for name, text in rendered().items():
        assert (SCHEMA_DIR / name).read_text() == text, f"docs/schemas/{name} is stale: run python -m starter.schemas"


def test_case_request_schema_names_every_channel():
    from workflows.policy import CHANNELS

    text = rendered()["CaseRequest.json"]
    assert all(f'"{channel}"' in text for channel in CHANNELS)
