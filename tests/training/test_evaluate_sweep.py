"""The decoding sweep: its grid, its objective, and a winner it must find (through the shared
fake generator, whose takes loop above a temperature) and a run on a tiny random model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.loading import ModelLoadError
from model.tasks import GeneratedTake, Sampling, TaskKind
from tests.fakes import Call, FakeGenerator
from training import evaluate, sweep
from training.takes import Run, Subject


def test_the_grid_is_every_combination_in_order() -> None:
    assert sweep.grid(["temperature=0.6,0.8", "top_k=20,40"]) == [
        {"temperature": 0.6, "top_k": 20},
        {"temperature": 0.6, "top_k": 40},
        {"temperature": 0.8, "top_k": 20},
        {"temperature": 0.8, "top_k": 40},
    ]
    assert sweep.grid(["repetition-penalty=1.1"]) == [{"repetition_penalty": 1.1}]


@pytest.mark.parametrize("spec", ["warmth=1", "temperature=", "top_p=high"])
def test_a_setting_the_sampler_has_not_is_refused(spec: str) -> None:
    with pytest.raises(ModelLoadError):
        sweep.grid([spec])


def test_the_objective_multiplies_soundness_and_adds_relevance() -> None:
    perfect = {"lint_clean_rate": 1.0, "loop_rate": 0.0, "in_cast_rate": None, "relevance": 0.5}
    assert sweep.objective(perfect) == pytest.approx(1.05)
    half_loop = {**perfect, "loop_rate": 0.5, "in_cast_rate": 0.8, "relevance": None}
    assert sweep.objective(half_loop) == pytest.approx(0.4)
    chinese = {**perfect, "language_share": 0.5, "echo_rate": 0.5, "relevance": None}
    assert sweep.objective(chinese) == pytest.approx(0.25)


def test_on_a_tie_the_setting_sampled_again_least_wins() -> None:
    """Two settings whose takes are all usable in the end: the one that needed fewer second
    tries answers the room sooner, so it wins; an equal tie keeps the first tried."""

    def row(kind: str, objective: float, resampled: float) -> dict[str, object]:
        return {
            "language": "English",
            "kind": kind,
            "objective": objective,
            "resampled_rate": resampled,
        }

    tried = [
        {
            "setting": {"temperature": 0.5},
            "per_task": [row("scene", 1.0, 0.5), row("beat", 1.0, 0.0)],
        },
        {
            "setting": {"temperature": 0.8},
            "per_task": [row("scene", 1.0, 0.25), row("beat", 1.0, 0.0)],
        },
        {
            "setting": {"temperature": 1.0},
            "per_task": [row("scene", 0.9, 0.0), row("beat", 0.5, 0.0)],
        },
    ]
    winners = {w["kind"]: w["setting"]["temperature"] for w in sweep.best(tried)}
    assert winners == {"scene": 0.8, "beat": 0.5}


def _loops_when_hot(call: Call, number: int) -> GeneratedTake:
    """A sound beat in the room's language at a low temperature; above 0.9 the take writes
    the same line again and again."""
    chinese = call.request.context.language == "Chinese"
    if call.sampling.temperature > 0.9:
        return GeneratedTake(("门开了。\n" if chinese else "The door opens.\n") * 6, "fake")
    if chinese:
        return GeneratedTake(f"信使打开信封，发现一把钥匙（第{number}条）。", "fake")
    return GeneratedTake(f"The courier opens the envelope and finds a key, take {number}.", "fake")


def test_the_sweep_finds_the_setting_whose_takes_do_not_loop(small_corpus: Path) -> None:
    held = evaluate.heldout(str(small_corpus), 0, 1, kinds=(TaskKind.BEAT,))
    subject = Subject("fake", "fake", generator=FakeGenerator(write=_loops_when_hot))
    plan = Run(2, 16, 128, 2, 1, Sampling())
    tried = sweep.sweep(subject, held, plan, sweep.grid(["temperature=1.2,0.7"]))
    winners = sweep.best(tried)
    assert {(w["language"], w["kind"]) for w in winners} == {
        ("English", "beat"),
        ("Chinese", "beat"),
    }
    assert all(w["setting"] == {"temperature": 0.7} for w in winners)
    hot = tried[0]["per_task"][0]
    assert hot["loop_rate"] == 1.0 and hot["objective"] == 0.0
    text = sweep.table({**_result(tried, winners), "held_out": held.source})
    assert "| temperature 1.2 | 0.000 | 0.000 |" in text
    assert "- beat (English): temperature 0.7, objective 1.000" in text


def _result(tried: list[dict[str, object]], winners: list[dict[str, object]]) -> dict[str, object]:
    return {
        "requests": 2,
        "takes": 2,
        "model": "fake",
        "adapter": None,
        "tried": tried,
        "best": winners,
    }


def test_a_sweep_runs_on_a_local_model(
    tiny_model_dir: Path, small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        *("temperature=0.5,1.0", "--model", str(tiny_model_dir), "--data", str(small_corpus)),
        *("--tasks", "beat", "--requests", "1", "--takes", "1", "--max-new-tokens", "4", "--json"),
        *("--out", str(tmp_path / "sweep.json"), "--takes-out", str(tmp_path / "takes.jsonl")),
    ]
    result = sweep.main(argv)
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(result))
    assert json.loads((tmp_path / "sweep.json").read_text(encoding="utf-8")) == json.loads(
        json.dumps(result)
    )
    assert [t["setting"] for t in result["tried"]] == [{"temperature": 0.5}, {"temperature": 1.0}]
    assert len(result["best"]) == 2  # beat in English and in Chinese
    assert all(row["relevance"] is not None for t in result["tried"] for row in t["per_task"])
    # The takes behind the figures, for a reader: each under the setting that sampled it.
    lines = (tmp_path / "takes.jsonl").read_text(encoding="utf-8").splitlines()
    takes = [json.loads(line) for line in lines]
    assert [t["column"] for t in takes] == ["temperature 0.5"] * 2 + ["temperature 1"] * 2
    assert all(t["take"] and t["kind"] == "beat" for t in takes)
    read = (tmp_path / "takes.md").read_text(encoding="utf-8")
    assert "temperature 0.5" in read and "temperature 1" in read


def test_a_sweep_keeps_each_setting_it_finished(small_corpus: Path, tmp_path: Path) -> None:
    """`--out`: a sweep stopped partway (a session ends) keeps the settings it has measured."""
    held = evaluate.heldout(str(small_corpus), 0, 1, kinds=(TaskKind.BEAT,))
    subject = Subject("fake", "fake", generator=FakeGenerator(write=_loops_when_hot))
    plan = Run(2, 16, 128, 2, 1, Sampling())
    out = tmp_path / "sweep.json"
    kept: list[list[dict[str, object]]] = []

    def stop_after_first(tried: list[dict[str, object]]) -> None:
        evaluate.write_json(out, {"tried": tried, "best": sweep.best(tried)})
        kept.append(json.loads(out.read_text(encoding="utf-8"))["tried"])

    sweep.sweep(subject, held, plan, sweep.grid(["temperature=1.2,0.7"]), stop_after_first)
    assert [[t["setting"] for t in tried] for tried in kept] == [
        [{"temperature": 1.2}],
        [{"temperature": 1.2}, {"temperature": 0.7}],
    ]
    assert not out.with_name("sweep.json.part").exists()


def test_a_sweep_without_settings_says_what_to_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        sweep.main(["--requests", "1"])
    assert "temperature=0.6,0.8,1.0" in capsys.readouterr().err
