from bench.eval import Benchmark, Metric, Outcome, render_markdown, run_benchmark

AUC = Metric("AUC", ("metrics.missing", "metrics.auc"), 0.85)
F1 = Metric("F1", ("metrics.nested.f1",), 0.75, percent=True)
ERROR = Metric("error", ("metrics.auc",), 0.95, higher_is_better=False)


def fake(tmp_path, *args, module="bench.tests.fake_trainer", dataset="ds"):
    (tmp_path / "ds").mkdir(exist_ok=True)
    return Benchmark("fake", "Fake benchmark", module, ("--data", "x", *args), dataset,
                     (AUC, F1, Metric("absent", ("metrics.nope",)),
                      Metric("bool is no number", ("metrics.flag",))),
                     "published 0.90; goal ≥ 0.85", artifact="fake_bench")


def test_metric_reads_the_first_path_present_and_judges_the_goal():
    manifest = {"metrics": {"auc": 0.9, "nested": {"f1": 0.5}}}
    assert AUC.read(manifest) == 0.9
    assert AUC.meets(0.9) is True and AUC.meets(0.8) is False
    assert ERROR.meets(0.9) is True and ERROR.meets(0.99) is False
    assert Metric("x", ("metrics.nested.f1.deeper",)).read(manifest) is None
    assert Metric("no goal", ("metrics.auc",)).meets(0.1) is None
    assert F1.show(0.5) == "50.00%" and AUC.show(0.91234) == "0.9123" and AUC.show(None) == "–"


def test_runs_the_cli_into_a_temp_folder_and_reads_its_manifest(tmp_path):
    outcome = run_benchmark(fake(tmp_path), tmp_path, timeout_s=120)
    assert outcome.status == "ok"
    assert outcome.values["AUC"] == 0.91 and outcome.values["F1"] == 0.5
    assert outcome.values["absent"] is None and outcome.values["bool is no number"] is None
    assert "absent" in outcome.reason
    assert outcome.command.endswith("--model-dir <tmp>")


def test_a_failing_cli_is_reported_with_its_output(tmp_path):
    outcome = run_benchmark(fake(tmp_path, "--fail"), tmp_path, timeout_s=120)
    assert outcome.status == "failed"
    assert "exit 3" in outcome.reason and "no rows" in outcome.reason


def test_missing_cli_or_dataset_skips_with_a_message(tmp_path):
    no_cli = run_benchmark(fake(tmp_path, module="services.nothing_here.train"), tmp_path, 60)
    assert no_cli.status == "skipped" and "services.nothing_here.train" in no_cli.reason
    no_data = run_benchmark(fake(tmp_path, dataset="absent_dataset"), tmp_path, 60)
    assert no_data.status == "skipped" and "absent_dataset" in no_data.reason


def test_markdown_lists_each_metric_beside_the_reference(tmp_path, monkeypatch):
    bench = fake(tmp_path)
    monkeypatch.setattr("bench.eval.BENCHMARKS", (bench,))
    ok = Outcome("fake", bench.title, "ok", "", 12.0, {"AUC": 0.91, "F1": 0.5, "absent": None},
                 "python -m fake")
    machine = {"cpu": "Test CPU", "cores": 2}
    text = render_markdown([ok], machine, "2026-01-01T00:00:00+00:00", 90)
    assert "| fake | Fake benchmark | AUC | 0.9100 | yes | published 0.90; goal ≥ 0.85 | 12 s |" \
        in text
    assert "|  |  | F1 | 50.00% | no |  |  |" in text
    assert "|  |  | absent | – | – |  |  |" in text
    skipped = Outcome("fake", bench.title, "skipped", "dataset absent")
    text = render_markdown([skipped], machine, "2026-01-01T00:00:00+00:00", 90)
    assert "| fake | Fake benchmark | – | skipped |" in text
    assert "- **fake** (skipped) : dataset absent" in text


def test_printed_json_is_read_from_between_other_output():
    from bench.eval import printed_json

    stdout = 'loading\n{\n  "smape": {"combination": 13.9}\n}\nreport: m3.md\n'
    assert printed_json(stdout) == {"smape": {"combination": 13.9}}
    assert printed_json("no json here\n") is None
    assert printed_json("{\n  broken\n}\n") is None
