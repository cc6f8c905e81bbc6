"""results/migrate.py: values pinned exactly where `make mutate`
found the other tests let a mutant through."""

from __future__ import annotations

import pytest

from results.errors import ResultsError
from results.migrate import migrate


@pytest.mark.parametrize(("doc", "kind"), [([], "list"), ("x", "str"), (None, "NoneType")])
def test_a_non_object_is_refused_naming_its_json_type(doc: object, kind: str) -> None:
    with pytest.raises(ResultsError) as caught:
        migrate(doc)
    assert str(caught.value) == f"not a results document (a JSON {kind})"
