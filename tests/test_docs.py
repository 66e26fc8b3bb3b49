"""The README and the guides in docs/: every relative link reaches a file, and every #anchor a
heading of it (GitHub's slugs), so moving a section cannot leave a link behind."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("targets", ROOT / "benchmarks" / "targets.py")
targets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(targets)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slugs(page: Path) -> set[str]:
    """GitHub's heading anchors of a page."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # a '#' in a code block is no heading
    return {targets.slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_reaches_its_file_and_heading(page):
    bad = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):  # http:, mailto: ...: not checked (no network here)
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target}: no file {dest}")
        elif anchor and dest.suffix == ".md" and anchor not in _slugs(dest):
            bad.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert not bad, f"{page.name}: " + "; ".join(bad)


def test_readme_targets_table_is_the_committed_reports():
    """The README's table of the LP/QP and PDE targets is ``benchmarks/targets.py``'s output, so
    every figure in it is the committed report's and every 'met' is computed from them: a rerun
    that changes a report must regenerate the table."""
    readme = (ROOT / "README.md").read_text()
    block = targets.BLOCK.search(readme)
    assert block, "README.md: no <!-- targets: ... --> block"
    assert block.group(2) == targets.table(), (
        "README.md's targets table differs from the committed reports: regenerate it with "
        "`python benchmarks/targets.py --readme`")


def test_targets_page_lists_where_each_report_it_quotes_comes_from():
    """docs/targets.md ends with the commit and hour of every report the README's tables read or
    the page names, from the reports' own provenance: a rerun must regenerate it."""
    page = (ROOT / "docs" / "targets.md").read_text()
    block = targets.PROVENANCE.search(page)
    assert block, "docs/targets.md: no <!-- provenance: ... --> block"
    table = targets.provenance()
    assert block.group(2) == table, (
        "docs/targets.md's table of where each report comes from differs from the committed reports: "
        "regenerate it with `python benchmarks/targets.py --readme`")
    for name in ("darcy_ksp_gamg_kernel_k1", "random-lp-200x400-pdlp", "scaling-sc105-test100"):
        assert f"| `{name}` |" in table, name  # a suffix after its name, a row's report, a core row's


def test_guides_measured_tables_are_the_committed_reports():
    """docs/lp_qp.md's and docs/pde.md's tables of every run are ``benchmarks/summary.py``'s
    output over the committed reports, as they are: a rerun must regenerate them."""
    import subprocess
    import sys

    bench = ROOT / "benchmarks"
    out = subprocess.run([sys.executable, str(bench / "summary.py"), str(bench / "results")],
                         capture_output=True, text=True, check=True).stdout
    lp, pde = (t.strip() for t in out.split("\n\n")[:2])
    for guide, table in (("lp_qp.md", lp), ("pde.md", pde)):
        assert table in (ROOT / "docs" / guide).read_text(), (
            f"docs/{guide}: its table of runs differs from the committed reports; replace it with "
            "`python benchmarks/summary.py --write`")


def test_committed_reports_were_made_from_committed_code():
    """Every committed report that records its provenance ran on code that a commit in this
    history holds: not on uncommitted changes (which no one could check out to rerun it), and at
    a commit this branch contains. Reports from before provenance was kept record none."""
    import json
    import subprocess

    made = {}
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        p = json.loads(path.read_text()).get("provenance")
        if isinstance(p, dict):
            made[path.name] = p
    changed = [name for name, p in made.items() if p.get("code_changed")]
    assert not changed, (f"reports made from uncommitted code: {', '.join(changed)}; commit the code, then "
                         "rerun them (benchmarks/run_*.sh)")
    if not (ROOT / ".git").exists():
        return
    shallow = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"],
                             capture_output=True, text=True).stdout.strip()
    if shallow != "false":  # a shallow clone (or no git) cannot tell an ancestor
        return
    foreign = [f"{name} ({p['commit'][:12]})" for name, p in made.items() if isinstance(p.get("commit"), str)
               and subprocess.run(["git", "-C", str(ROOT), "merge-base", "--is-ancestor", p["commit"], "HEAD"],
                                  capture_output=True).returncode != 0]
    assert not foreign, f"reports made at commits this history does not hold: {', '.join(foreign)}"
