"""`studies/eval_exact.py --quick` (SDE vs ODE drag on the exact-score model) as a smoke
test: every table is computed, every figure finite, the costs are the ones the loop makes,
and the JSON says how it was made (the values are the full run's to report, not asserted)."""
import json
from pathlib import Path

import pytest
from quick_runs import finite, run_quick

REPO = Path(__file__).resolve().parents[1]
MEASURES = ("target", "near", "left", "pos_err", "loglik_gap", "atypical")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval_exact") / "eval_exact.json"
    proc, result = run_quick("eval_exact", out, timeout=300)
    return proc, result, out.with_suffix(".md").read_text()


def check_row(row):
    for key in MEASURES:
        assert finite(row[key]["mean"]) and finite(row[key]["ci95"]) and row[key]["ci95"] >= 0, (key, row[key])
    assert finite(row["kl_fit"]) and finite(row["loglik_q05"])


def test_quick_exact_eval_computes_every_table_with_intervals_and_costs(quick_run):
    proc, r, md = quick_run
    assert r["mode"] == "quick" and "--quick" in r["command"] and "studies.eval_exact" in r["command"]
    assert r["n"] >= 8 and all(isinstance(v, int) for v in r["seeds"].values())
    for ref in r["reference"].values():
        check_row(ref)
    assert r["reference"]["fresh data at the target"]["target"]["mean"] > 0.95  # data: the object is where drawn
    for table in ("t0", "alpha", "steps", "eta"):
        rows = r["tables"][table]
        assert rows and all(check_row(row) is None for row in rows)
    etas = {row["eta"] for row in r["tables"]["eta"] if row["method"] == "sde"}
    assert {0.0, 1.0} <= etas
    p = r["paper_default"]
    for method, per_step in (("sde", (1, 2)), ("ode", (2, 2))):
        cost = r["tables"]["cost"][method]
        assert len(cost["plans"]) >= 4 and cost["default"]["steps"] == p["steps"]
        for plan in cost["plans"]:
            check_row(plan)
            steps = round(plan["t0"] * plan["steps"]) * plan["subdrags"]
            # calls and rows counted on the denoiser match the method's cost model
            assert plan["calls_per_image"] == per_step[0] * steps and plan["rows_per_image"] == per_step[1] * steps
        rows = [plan["rows_per_image"] for plan in cost["plans"]]
        assert rows == sorted(rows)
        cheapest = cost["cheapest_holding"]
        assert cheapest is None or (cheapest["holds"] and cheapest["rows_per_image"] <= cost["default"]["rows_per_image"])
    for row in r["tables"]["position_at_t0"]:
        assert row["posterior_at_t0"]["sigma_t0"] > 0
        assert all(0 <= row[k]["near"]["mean"] <= 1 + 1e-9 for k in ("posterior_at_t0", "sde", "ode"))
    for row in r["tables"]["eta"]:
        assert set(row["whitened_var"]) == {"target square", "source square", "elsewhere"}
        assert all(finite(v) and v > 0 for v in row["whitened_var"].values())
    for heading in ("### t0", "### alpha", "### steps", "### eta front", "### quality per model call",
                    "### cause: where the object lands", "### cause: where realism is lost"):
        assert heading in proc.stdout and heading in md


def test_the_readme_tables_render_from_any_run(quick_run):
    from studies import eval_exact

    _, r, _ = quick_run
    tables = eval_exact.readme_tables(r)
    assert set(tables) == {"t0", "alpha", "steps", "position_at_t0", "contrast", "eta", "cost"}
    assert all(t.startswith("| ") and t.count("\n") >= 3 for t in tables.values())


def test_the_readmes_exact_score_tables_are_the_committed_full_runs():
    from studies import eval_exact

    result = json.loads((REPO / "benchmarks" / "results" / "eval_exact.json").read_text())
    assert result["mode"] == "full" and result["n"] >= 256
    readme = (REPO / "docs" / "findings.md").read_text()
    section = readme[readme.index("### SDE vs ODE on an exact-score model"):]
    for name, table in eval_exact.readme_tables(result).items():
        assert table in section, (
            f"docs/findings.md's exact-score table {name!r} differs from the committed JSON; paste the output of "
            "`.venv/bin/python -m studies.eval_exact --readme`")
