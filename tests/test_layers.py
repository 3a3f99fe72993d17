"""The house has no arrows back up: `pages` may import `vis` and `snippets`, `vis` may import
`snippets`, and `snippets`' core never imports its own benchmark (`snippets.bench`) or `vis`; no
course module imports itself through a circle. Read from the import statements, as the store's
keys are (pages/store.py), so a lazy import inside a function counts too."""

from pages import store

#: package -> the course packages it may import
ALLOWED = {"snippets": {"snippets"}, "vis": {"vis", "snippets"}, "pages": {"pages", "vis", "snippets"}}


def course_modules() -> list[str]:
    names = []
    for package in ALLOWED:
        for path in sorted((store.ROOT / package).rglob("*.py")):
            parts = path.relative_to(store.ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def imports(name: str) -> set[str]:
    return set(store.file_facts(store.module_file(name)).imports) - {name}


def core(name: str) -> bool:
    """snippets' library modules: not its benchmark, nor the command line that runs it."""
    return name.startswith("snippets.") and not name.startswith("snippets.bench") and name != "snippets.__main__"


def upward_imports() -> list[str]:
    found = []
    for name in course_modules():
        package = name.split(".")[0]
        for target in imports(name):
            if target.split(".")[0] not in ALLOWED[package]:
                found.append(f"{name} imports {target}")
            elif core(name) and target.startswith("snippets.bench"):
                found.append(f"{name} (core) imports {target} (the benchmark)")
    return found


def cycles() -> list[list[str]]:
    """Circles among course modules (a package importing its own submodule is no circle)."""
    found, graph = [], {name: {t for t in imports(name) if not t.startswith(name + ".")} for name in course_modules()}
    for start in graph:
        todo = [(start, [start])]
        while todo:
            node, path = todo.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    found.append(path)
                elif nxt not in path and len(path) < 6:
                    todo.append((nxt, path + [nxt]))
    return found


def test_no_import_points_up():
    assert upward_imports() == []


def test_no_circles():
    assert cycles() == []


def test_the_check_sees_an_upward_import(monkeypatch):
    def facts(path):
        return store.Facts(frozenset({"pages.ch1"} if path.name == "svg.py" else ()), b"", {}, frozenset())

    monkeypatch.setattr(store, "file_facts", facts)
    assert "vis.svg imports pages.ch1" in upward_imports()


def test_a_page_modules_store_key_leaves_out_the_build_machinery():
    """A page's stored results are keyed on the code its module reaches (pages/store.py): were the
    citation check or the compute stage among it, editing them would compute every page again
    (chapter 2's live measurement included). The exercise modules reach the registry through
    pages.exercises' index; they store no function of their own."""
    from pages import registry

    chapters = set(registry.page_modules()) - set(registry.page_modules("EXERCISES")) - {"exercises"}
    reached = {name: {"pages.citations", "pages.compute", *(["pages.registry"] if name in chapters else [])}
               & set(store.closure(f"pages.{name}")) for name in registry.page_modules()}
    assert {name: found for name, found in reached.items() if found} == {}
