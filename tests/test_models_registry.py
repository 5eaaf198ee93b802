"""harness/models/: each backend module registers the `--model` specs it answers, and
make_backend finds a backend only through that registry."""
from __future__ import annotations

import pytest

from harness.models import make_backend
from harness.models import registry
from orca.errors import UserError


def test_an_unknown_spec_names_every_registered_form_in_one_line():
    with pytest.raises(UserError) as e:
        make_backend("zzz", None)
    assert str(e.value) == ("--model 'zzz': expected one of hf:PATH, openai:MODEL, vllm:PATH, gguf:PATH, default "
                            "or a named model (smollm2-135m-instruct; see orca-eval models)")


def test_a_new_backend_is_one_registration_away(monkeypatch):
    monkeypatch.setattr(registry, "BACKENDS", dict(registry.BACKENDS))
    monkeypatch.setattr(registry, "NAMED", dict(registry.NAMED))
    import harness.models as models

    monkeypatch.setattr(models, "BACKENDS", registry.BACKENDS)
    monkeypatch.setattr(models, "NAMED", registry.NAMED)

    @registry.register_model("toy", "NAME")
    def make_toy(rest, spec, cfg):
        return ("toy", rest, spec, cfg)

    registry.register_name("my-toy", lambda spec, cfg: ("named", spec, cfg))
    assert make_backend("toy:x", "cfg") == ("toy", "x", "toy:x", "cfg")
    assert make_backend("my-toy", "cfg") == ("named", "my-toy", "cfg")
    with pytest.raises(UserError, match=r"expected one of hf:PATH, .*, gguf:PATH, toy:NAME, default"):
        make_backend("toy:", None)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register_model("toy", "NAME")(make_toy)
