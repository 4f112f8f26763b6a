"""``babyloss-bot graph``: the dialogue's flow as a Mermaid or Graphviz DOT diagram.

Unreachable nodes, dead ends and options pointing at missing nodes are marked, so a
volunteer can see at a glance what the validator is talking about.
"""

from __future__ import annotations

from bot.dialogue.checks import reachable_nodes
from bot.dialogue.model import Dialogue


def _edges(d: Dialogue, lang: str):
    check = d.entry.get("safety_check")
    if check in d.nodes:  # its answers are the bot's own buttons, not options in the YAML
        yes = d.system("safety_check_yes_label").pick(lang, lang)
        yield check, d.entry["crisis"], yes, "option"
    for node in d.nodes.values():
        for opt in node.options:
            yield node.id, opt.to, opt.label.pick(lang, lang), "option"
        if node.free_text:
            for route in node.free_text.routes:
                yield node.id, route.to, " / ".join(route.match[:3]), "route"
            yield node.id, node.free_text.fallback, "anything else", "route"


def _marks(d: Dialogue) -> tuple[set[str], set[str], set[str]]:
    reachable = reachable_nodes(d)
    unreachable = {n for n in d.nodes if n not in reachable}
    dead = {
        n.id
        for n in d.nodes.values()
        if not n.options and not n.free_text and n.id != d.entry.get("safety_check")
    }
    missing = {t for n in d.nodes.values() for t, _ in n.targets() if t not in d.nodes}
    return unreachable, dead, missing


def _q(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


def to_mermaid(d: Dialogue) -> str:
    lang = d.settings.default_language
    unreachable, dead, missing = _marks(d)
    lines = ["flowchart TD"]
    entry_of = {node_id: name for name, node_id in d.entry.items()}
    for node_id in d.nodes:
        label = f"{node_id}<br/><i>{entry_of[node_id]}</i>" if node_id in entry_of else node_id
        lines.append(f'    {node_id}["{_q(label)}"]')
    for node_id in sorted(missing):
        lines.append(f'    {node_id}["{node_id}<br/>MISSING"]')
    for src, dst, label, kind in _edges(d, lang):
        arrow = "-->" if kind == "option" else "-.->"
        lines.append(f'    {src} {arrow}|"{_q(label)}"| {dst}')
    lines += [
        "    classDef unreachable fill:#eee,stroke:#999,stroke-dasharray: 5 5",
        "    classDef deadend fill:#fde2e2,stroke:#c00",
        "    classDef missing fill:#fff3cd,stroke:#c90",
    ]
    for cls, ids in (("unreachable", unreachable), ("deadend", dead), ("missing", missing)):
        if ids:
            lines.append(f"    class {','.join(sorted(ids))} {cls}")
    return "\n".join(lines) + "\n"


def to_dot(d: Dialogue) -> str:
    lang = d.settings.default_language
    unreachable, dead, missing = _marks(d)
    lines = ["digraph dialogue {", "    rankdir=TB;", '    node [shape=box, style="rounded"];']
    for node_id in d.nodes:
        attrs = []
        if node_id in dead:
            attrs.append('color=red, xlabel="dead end"')
        if node_id in unreachable:
            attrs.append('style="rounded,dashed", color=gray, xlabel="unreachable"')
        lines.append(f'    "{node_id}"' + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    for node_id in sorted(missing):
        lines.append(f'    "{node_id}" [color=orange, xlabel="missing"];')
    for src, dst, label, kind in _edges(d, lang):
        style = "" if kind == "option" else ", style=dashed"
        lines.append(f'    "{src}" -> "{dst}" [label="{_q(label)}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"
