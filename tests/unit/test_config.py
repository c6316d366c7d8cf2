from carekey.config import Settings


def test_every_setting_is_documented():
    undocumented = [name for name, f in Settings.model_fields.items() if not (f.description or "").strip()]
    assert undocumented == []


def test_env_overrides(monkeypatch):
    monkeypatch.setenv("CAREKEY_IDENTIFICATIONS_PER_HOUR", "7")
    assert Settings().identifications_per_hour == 7
