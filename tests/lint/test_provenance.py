"""The one definition of the allowed set (djlint.provenance), on hand-built graphs."""

import networkx as nx

from djlint.provenance import AllowedSets, allowed_reads, allowed_writes


def master_of(name: str) -> str | None:
    return name.rsplit(".", 1)[0] if name.count(".") == 1 else None


def pipeline() -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(["Probe", "Reference", "Subject", "Session", "Scan", "Scan.Field", "Sorting",
                          "Sorting.Unit", "Params", "Sideways", "Sideways.Part", "Summary"])
    graph.add_edges_from([
        ("Subject", "Session"), ("Session", "Scan"), ("Scan", "Scan.Field"),
        ("Scan", "Sorting"), ("Sorting", "Sorting.Unit"), ("Probe", "Sorting.Unit"),
        ("Params", "Sorting"), ("Session", "Sideways"), ("Sideways", "Sideways.Part"),
        ("Sorting", "Summary"),
    ])
    return graph


def test_reads_are_entity_ancestors_self_and_parts():
    reads = allowed_reads(pipeline(), "Sorting", master_of)
    assert reads == {"Subject", "Session", "Scan", "Scan.Field", "Params", "Probe", "Sorting", "Sorting.Unit"}


def test_parts_of_ancestor_master_are_readable_and_siblings_are_not():
    reads = allowed_reads(pipeline(), "Summary", master_of)
    assert "Scan.Field" in reads and "Sorting.Unit" in reads
    assert "Sideways" not in reads and "Sideways.Part" not in reads
    assert "Reference" not in reads


def test_parent_of_own_part_is_readable():
    assert "Probe" in allowed_reads(pipeline(), "Sorting", master_of)


def test_writes_are_self_and_parts_plus_policy():
    graph = pipeline()
    assert allowed_writes(graph, "Sorting", master_of) == {"Sorting", "Sorting.Unit"}
    assert allowed_writes(graph, "Sorting", master_of, extra=["Session"]) == {"Sorting", "Sorting.Unit", "Session"}
    assert "Session" not in allowed_writes(graph, "Summary", master_of)


def test_policy_reads_extend_the_set():
    sets = AllowedSets(pipeline(), master_of)
    assert "Reference" in sets.reads("Sorting", extra=["Reference"])
    assert "Reference" not in sets.reads("Sorting")


def test_a_cycle_in_bad_input_is_searched_per_table():
    graph = pipeline()
    graph.add_edge("Summary", "Subject")  # a foreign-key cycle (not declarable, but input can be anything)
    reads = allowed_reads(graph, "Session", master_of)
    assert {"Subject", "Summary", "Sorting", "Sorting.Unit", "Params", "Probe"} <= reads
    assert "Sideways" not in reads


def test_memoised_sets_match_a_fresh_search():
    graph = pipeline()
    sets = AllowedSets(graph, master_of)
    for table in graph.nodes:
        expected = {table} | {m for node in nx.ancestors(graph, table) for m in graph.nodes
                              if (master_of(m) or m) == (master_of(node) or node)}
        own = master_of(table) or table
        expected |= {m for m in graph.nodes if (master_of(m) or m) == own}
        entities = nx.DiGraph((master_of(a) or a, master_of(b) or b) for a, b in graph.edges
                              if (master_of(a) or a) != (master_of(b) or b))
        entities.add_nodes_from(master_of(n) or n for n in graph.nodes)
        expected |= {m for e in nx.ancestors(entities, own) for m in graph.nodes if (master_of(m) or m) == e}
        assert sets.reads(table) == expected, table


def test_may_read_agrees_with_the_read_set():
    graph = pipeline()
    graph.add_node("Outside")  # a table with no foreign keys at all
    sets = AllowedSets(graph, master_of)
    for table in graph.nodes:
        for target in graph.nodes:
            assert sets.may_read(table, target) == (target in sets.reads(table)), (table, target)
            assert sets.may_read(table, target, extra={target})


def test_table_ancestors_do_not_collapse_masters_and_parts():
    graph = pipeline()
    sets = AllowedSets(graph, master_of)
    for table in graph.nodes:
        for candidate in graph.nodes:
            assert sets.is_table_ancestor(table, candidate) == (candidate in nx.ancestors(graph, table)), (
                table, candidate)
    assert not sets.is_table_ancestor("Summary", "Sorting.Unit")  # readable, but not upstream of Summary
    assert sets.is_table_ancestor("Sorting.Unit", "Probe") and not sets.is_table_ancestor("Sorting", "Probe")
