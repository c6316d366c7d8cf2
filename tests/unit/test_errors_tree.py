"""The exception tree drawn in ``carekey.errors``' docstring is the tree of its classes."""

import re

from carekey import errors


def drawn_parents() -> dict[str, str]:
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in errors.__doc__.splitlines():
        body = line.lstrip(" │├└─")
        m = re.match(r"[A-Z][A-Za-z]+", body)
        if not m or not hasattr(errors, m.group(0)) or not line.strip().startswith(("CarekeyError", "├", "└", "│")):
            continue
        depth = len(line) - len(body)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[m.group(0)] = stack[-1][1]
        stack.append((depth, m.group(0)))
    return parents


def test_the_drawn_tree_is_the_class_tree():
    classes = {
        name: cls
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, errors.CarekeyError) and cls is not errors.CarekeyError
    }
    assert drawn_parents() == {name: cls.__bases__[0].__name__ for name, cls in classes.items()}


def test_an_error_carries_its_field():
    assert errors.InvalidInput("bad card", field="card_number").field == "card_number"
    assert errors.InvalidInput("bad").field is None
