"""The llm engine against a local server that speaks the OpenAI-compatible chat API."""

from __future__ import annotations

import json

import grpc
import pytest

from parley.errors import EngineUnavailable, UnsupportedLanguage
from parley.server import running
from parley.settings import SettingsError, resolve
from parley.v1 import translate_pb2 as pb
from parley.v1 import translate_pb2_grpc
from services.translate.config import TranslateConfig
from services.translate.engines.llm import LlmEngine, parse_translations, system_prompt
from services.translate.registry import build_engines
from services.translate.servicer import service
from tests.translate.conftest import SERVER
from tests.translate.fake_openai import fake_openai

KEY = "sk-test"
MODEL = "qwen2.5:7b"
LANGUAGES = ("en", "de", "fr")


def make(url: str, key: str = KEY, model: str = MODEL, **kwargs) -> LlmEngine:
    kwargs = {"languages": LANGUAGES, "timeout_s": 5, "retry_delays": (0.01, 0.01), **kwargs}
    return LlmEngine(url, model, api_key=key, **kwargs)


@pytest.fixture
def llm():
    with fake_openai(KEY) as (url, state):
        engine = make(url)
        engine.discover()
        yield engine, state
        engine.close()


def test_pairs_are_every_ordered_pair_of_the_languages(llm):
    engine, state = llm
    assert (
        engine.pairs() == {(s, t): MODEL for s in LANGUAGES for t in LANGUAGES if s != t}
        and len(engine.pairs()) == 6
    )
    assert [r["path"] for r in state.requests] == ["/v1/models"]
    assert state.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"


def test_translate_sends_the_chat_request_shape(llm):
    engine, state = llm
    texts = ["Good morning", "The cat", "⟦Ana⟧ has 3 cats"]
    assert engine.translate(texts, "en", "de") == ["guten morgen", "die katze", "⟦Ana⟧ has 3 cats"]
    (request,) = [r for r in state.requests if r["method"] == "POST"]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["model"] == MODEL and body["temperature"] == 0 and body["stream"] is False
    assert body["response_format"] == {"type": "json_object"}
    system, user = body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    assert json.loads(user["content"]) == texts
    prompt = system["content"]
    assert "translation engine" in prompt and "from English to German" in prompt
    assert '{"translations": [...]}' in prompt and "exactly 3 strings" in prompt
    assert "⟦ ⟧" in prompt and "names of people" in prompt and "numbers" in prompt


def test_german_is_served_in_both_directions_and_to_french(llm):
    engine, state = llm
    assert engine.translate(["Katze Haus"], "de", "en") == ["cat house"]
    assert "from German to English" in state.chats()[-1]["messages"][0]["content"]
    assert engine.translate(["The house"], "de", "fr") == ["le maison"]
    with pytest.raises(UnsupportedLanguage, match="llm does not translate en>es"):
        engine.translate(["cat"], "en", "es")


def test_texts_are_batched_and_keep_their_order(llm):
    engine, state = llm
    texts = [f"house {i}" for i in range(40)]
    assert engine.translate(texts, "en", "fr") == [f"maison {i}" for i in range(40)]
    batches = [json.loads(body["messages"][1]["content"]) for body in state.chats()]
    assert [len(batch) for batch in batches] == [16, 16, 8]
    assert sum(batches, []) == texts
    assert "exactly 8 strings" in state.chats()[-1]["messages"][0]["content"]


def test_a_fenced_answer_is_accepted(llm):
    engine, state = llm
    state.fail_next = ["fenced"]
    assert engine.translate(["Good morning", "cat"], "en", "de") == ["guten morgen", "katze"]
    assert len(state.chats()) == 1


@pytest.mark.parametrize("answer", ["malformed", "short"])
def test_an_unusable_answer_falls_back_to_one_text_per_request(llm, answer):
    engine, state = llm
    state.fail_next = [answer]
    texts = ["Good morning", "The cat", "house"]
    assert engine.translate(texts, "en", "de") == ["guten morgen", "die katze", "haus"]
    sent = [json.loads(body["messages"][1]["content"]) for body in state.chats()]
    assert sent == [texts, ["Good morning"], ["The cat"], ["house"]]
    assert "exactly 1 strings" in state.chats()[-1]["messages"][0]["content"]


def test_an_unusable_answer_text_by_text_is_unavailable_naming_the_model(llm):
    engine, state = llm
    state.fail_next = ["short", "malformed"]
    with pytest.raises(EngineUnavailable, match=r"model 'qwen2\.5:7b' gave no usable .* not JSON"):
        engine.translate(["Good morning", "cat"], "en", "de")
    state.fail_next = ["short"]
    with pytest.raises(EngineUnavailable, match="holds 0 translations for 1 texts"):
        engine.translate(["cat"], "en", "de")
    assert len(state.chats()) == 3  # one text: no second try of the same request


def test_rate_limits_server_errors_and_resets_are_retried_then_typed(llm):
    engine, state = llm
    state.fail_next = [429, 503]
    assert engine.translate(["cat"], "en", "de") == ["katze"]
    assert len(state.chats()) == 3
    state.fail_next = ["reset", 502]
    assert engine.translate(["cat"], "en", "de") == ["katze"]
    state.fail_next = [500, 500, 500]
    with pytest.raises(EngineUnavailable, match="answered 500: queued failure"):
        engine.translate(["cat"], "en", "de")
    state.fail_next = ["reset", "reset", "reset"]
    with pytest.raises(EngineUnavailable, match="dropped the connection"):
        engine.translate(["cat"], "en", "de")
    assert state.fail_next == []


def test_a_server_that_does_not_answer_in_time_is_unavailable():
    with fake_openai() as (url, state):
        engine = make(url, key="", timeout_s=0.2)
        state.fail_next = ["stall"]
        with pytest.raises(EngineUnavailable, match=r"did not answer within 0\.2 s"):
            engine.translate(["cat"], "en", "de")
        assert len(state.chats()) == 1  # a timeout is not retried
        engine.close()


def test_a_wrong_key_a_dead_server_and_an_unknown_model_are_unavailable():
    with fake_openai(KEY) as (url, state):
        with pytest.raises(EngineUnavailable, match=r"refused the API key \(401\)"):
            make(url, key="wrong").discover()
        with pytest.raises(EngineUnavailable, match="refused the API key"):
            make(url, key="").translate(["cat"], "en", "de")
        assert "Authorization" not in state.requests[-1]["headers"]
        with pytest.raises(EngineUnavailable) as missing:
            make(url, model="mistral:7b").discover()
        assert "model 'mistral:7b' is not on the LLM server" in str(missing.value)
        assert "it has qwen2.5:7b, llama3.2:3b" in str(missing.value)
        assert "`ollama pull mistral:7b`" in str(missing.value)
        with pytest.raises(EngineUnavailable, match=r"not on .*404: model \"mistral:7b\" not"):
            make(url, model="mistral:7b").translate(["cat"], "en", "de")
        with pytest.raises(EngineUnavailable, match="has no /models"):
            make(url.removesuffix("/v1")).discover()
        make(url, model="qwen2.5:7b").discover()
    with pytest.raises(EngineUnavailable, match="LLM server at .* is unreachable"):
        make(url).discover()  # the server is gone


def test_an_untagged_ollama_model_matches_its_latest_tag():
    with fake_openai() as (url, state):
        state.models = ["qwen2.5:latest"]
        make(url, key="", model="qwen2.5").discover()
        with pytest.raises(EngineUnavailable, match="is not on the LLM server"):
            make(url, key="", model="qwen2.5:14b").discover()


def test_answers_are_parsed_strictly():
    assert parse_translations('```json\n{"translations": ["a"]}\n```', 1) == ["a"]
    assert parse_translations('<think>hmm</think>\n{"translations": ["a", "b"]}', 2) == ["a", "b"]
    for bad in ('{"translations": ["a", 2]}', '{"text": "a"}', "a", None):
        with pytest.raises(ValueError):
            parse_translations(bad, 1)
    assert "from Catalan to the language with ISO code 'xx'" in system_prompt(2, "ca", "xx")


def test_settings_are_read_and_checked():
    env = {
        "PARLEY_TRANSLATE_LLM_URL": "http://127.0.0.1:11434/v1",
        "PARLEY_TRANSLATE_LLM_MODEL": MODEL,
        "PARLEY_TRANSLATE_LLM_API_KEY": KEY,
        "PARLEY_TRANSLATE_LLM_LANGUAGES": "en,DE,fra",
        "PARLEY_TRANSLATE_LLM_TIMEOUT_S": "12.5",
        "PARLEY_TRANSLATE_LLM_BATCH": "4",
    }
    config = resolve(TranslateConfig, environ=env)
    assert config.translate_llm_model == MODEL and config.translate_llm_api_key == KEY
    assert config.translate_llm_timeout_s == 12.5 and config.translate_llm_batch == 4
    assert KEY not in repr(config)
    assert TranslateConfig().translate_engines.startswith("deepl,llm,")
    for changes, message in [
        ({"PARLEY_TRANSLATE_LLM_MODEL": ""}, "PARLEY_TRANSLATE_LLM_MODEL is required"),
        ({"PARLEY_TRANSLATE_LLM_URL": "127.0.0.1:11434"}, "not an http:// or https:// URL"),
        ({"PARLEY_TRANSLATE_LLM_LANGUAGES": "en,english"}, "'english' is not a language code"),
        ({"PARLEY_TRANSLATE_LLM_LANGUAGES": "en,eng"}, "needs at least two languages"),
        ({"PARLEY_TRANSLATE_LLM_BATCH": "0"}, "PARLEY_TRANSLATE_LLM_BATCH=0 is too small"),
        ({"PARLEY_TRANSLATE_LLM_TIMEOUT_S": "0"}, "PARLEY_TRANSLATE_LLM_TIMEOUT_S=0.0 is too"),
    ]:
        with pytest.raises(SettingsError, match=message):
            resolve(TranslateConfig, environ={**env, **changes})


def test_registered_only_with_a_url_a_model_and_a_server_that_lists_it():
    with fake_openai(KEY) as (url, state):
        names = [e.name for e in build_engines(TranslateConfig(translate_llm_model=MODEL))]
        assert "llm" not in names and "apertium" in names
        assert state.requests == []  # no URL: the server is not even asked
        config = TranslateConfig(
            translate_llm_url=url,
            translate_llm_model=MODEL,
            translate_llm_api_key=KEY,
            translate_llm_languages="en,de",
            translate_llm_batch=2,
        )
        engines = build_engines(config)
        assert [e.name for e in engines] == ["llm", "bergamot", "apertium"]
        assert engines[0].pairs() == {("en", "de"): MODEL, ("de", "en"): MODEL}
        assert engines[0].translate(["a", "b", "cat"], "en", "de") == ["a", "b", "katze"]
        assert [len(json.loads(b["messages"][1]["content"])) for b in state.chats()] == [2, 1]
        for engine in engines:
            engine.close()
        for bad in (
            {"translate_llm_api_key": "wrong"},
            {"translate_llm_model": "mistral:7b"},
            {"translate_llm_url": url.removesuffix("/v1")},
        ):
            bad_config = TranslateConfig(**{**_fields(config), **bad})
            assert [e.name for e in build_engines(bad_config)] == ["bergamot", "apertium"]
    dead = build_engines(TranslateConfig(**{**_fields(config), "translate_llm_timeout_s": 2}))
    assert [e.name for e in dead] == ["bergamot", "apertium"]


def _fields(config: TranslateConfig) -> dict:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


async def test_service_prefers_llm_and_falls_back_to_apertium_by_request():
    with fake_openai(KEY) as (url, state):
        config = TranslateConfig(
            translate_llm_url=url,
            translate_llm_model=MODEL,
            translate_llm_api_key=KEY,
            translate_llm_languages="en,de,fr",
        )
        async with running([service(config)], SERVER) as server:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub = translate_pb2_grpc.TranslationServiceStub(channel)
                request = pb.TranslateRequest(
                    texts=["Good morning"], source_language="en", target_languages=["de", "ca"]
                )
                reply = await stub.Translate(request, timeout=30)
                de, ca = reply.translations
                assert de.text == "guten morgen" and de.route.summary == "en>de (llm)"
                assert de.route.steps[0].model == MODEL
                # Catalan is not among the llm languages here: Apertium serves it directly
                assert ca.route.summary == "en>ca (apertium)" and "bon dia" in ca.text.lower()
                request.engine = "apertium"
                request.target_languages[:] = ["ca"]
                reply = await stub.Translate(request, timeout=30)
                assert reply.translations[0].route.summary == "en>ca (apertium)"
                request.engine = "llm"
                request.target_languages[:] = ["fr"]
                reply = await stub.Translate(request, timeout=30)
                assert reply.translations[0].text == "bon matin"
                assert reply.translations[0].route.summary == "en>fr (llm)"
        assert len(state.chats()) == 2


def test_kept_names_go_between_the_marks_the_prompt_names(llm):
    engine, state = llm
    assert engine.translate(["Tell Mark the house"], "en", "fr") == ["Tell marque le maison"]
    kept = engine.translate_keeping(["Tell Mark the house"], "en", "fr", ["Mark"])
    assert kept == ["Tell Mark le maison"]
    assert "⟦Mark⟧" in state.chats()[-1]["messages"][-1]["content"]
