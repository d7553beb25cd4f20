"""Remediation steps as a person reads them: prose, the commands to copy, and which steps are alternatives.

The checks write each step as one sentence in which the commands sit after a colon, inside
parentheses, or in backticks ("Restart the static pods so they read the new files: mkdir -p …").
Every renderer needs the same split: the HTML page puts each command in its own copyable block,
Markdown in a code block, the terminal on a line of its own. The split is done once, here.

A command is recognised by its first word (an executable an administrator runs on a master or
with the cluster's API); text in backticks is always a command. Anything not recognised stays
prose, so an unknown command is shown as written, never cut.
"""

from __future__ import annotations

from collections.abc import Iterable

from analyzer.records import datarecord

# First words of the commands the checks and the analysis write (checks/remediation.py,
# analysis/last_good.py) and of the usual tools on a control-plane node.
EXECUTABLES = frozenset({
    "ansible-playbook", "cat", "chmod", "chown", "cp", "crictl", "curl", "etcdctl", "etcdutl", "install", "journalctl",
    "k3s", "kforensic", "kubeadm", "kubectl", "ln", "ls", "mkdir", "mv", "oc", "openssl", "podman", "rke2", "rm",
    "sed", "sudo", "systemctl", "tar",
})

# Commands that also follow "then" or "and" inside a sentence ("…, then systemctl restart kubelet"):
# only words that are not also English verbs, so "and install the pair" stays prose.
_MID_SENTENCE = frozenset({"crictl", "etcdctl", "etcdutl", "kforensic", "kubeadm", "kubectl", "oc", "openssl", "rke2", "systemctl"})


@datarecord
class Part:
    text: str
    command: bool = False


@datarecord
class Step:
    parts: tuple[Part, ...]
    alternative: bool = False  # "Or stop serving it: …": instead of the step before, not after it

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(part.text for part in self.parts if part.command)

    @property
    def prose(self) -> str:
        """The step's words with each command replaced by nothing: for a one-line summary."""
        return " ".join(" ".join(part.text for part in self.parts if not part.command).split())


def _starts_command(text: str, at: int) -> bool:
    word = text[at:].split(" ", 1)[0]
    return word in EXECUTABLES and (at + len(word) == len(text) or text[at + len(word)] == " ")


def _command_end(text: str, start: int, closing: str | None) -> int:
    """Where the command starting at ``start`` ends: a closing parenthesis, or the first place
    outside quotes where prose resumes (", and …", " (or …)", ": it …", "   # note")."""
    quote: str | None = None
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            if text[index - 1 : index] == " " and not _starts_command(text, index + 1):
                return index - 1  # " (or your saved config)": prose in parentheses after the command
            depth += 1
        elif char == ")":
            if depth == 0 and closing == ")":
                return index
            depth = max(0, depth - 1)
        elif text.startswith(("   #", ", ", "; ", ": "), index) and depth == 0:
            following = text[index:].lstrip(",;:# ")
            if text.startswith("   #", index) or not _starts_command(following, 0):
                return index
        index += 1
    return len(text)


def _split_prose(text: str) -> Iterable[Part]:
    start = 0
    index = 0
    while index < len(text):
        opener = text[index - 2 : index] if index >= 2 else ""
        boundary = index == 0 or opener in (": ", ", ") or text[index - 1 : index] == "("
        mid_sentence = text[max(0, index - 5) : index] in ("then ", " and ") and text[index:].split(" ", 1)[0] in _MID_SENTENCE
        if (boundary or mid_sentence) and _starts_command(text, index):
            closing = ")" if text[index - 1 : index] == "(" else None
            end = _command_end(text, index, closing)
            # "(install -m 600 …)": the command stands in its own block, its parentheses go.
            before = text[start : index - 1].rstrip() + " " if closing else text[start:index]
            if before.strip():
                yield Part(before)
            yield Part(text[index:end].rstrip(), command=True)
            start = index = end + 1 if closing and text[end : end + 1] == ")" else end
            continue
        index += 1
    if text[start:]:
        yield Part(text[start:])


def parse_step(text: str) -> Step:
    """One remediation string as prose and commands; backticks mark a command explicitly."""
    parts: list[Part] = []
    for number, piece in enumerate(text.split("`")):
        if number % 2:
            parts.append(Part(piece, command=True))
        elif piece:
            parts.extend(_split_prose(piece))
    cleaned: list[Part] = []
    for part in parts:
        if not part.text.strip():
            continue
        if not part.command and cleaned and cleaned[-1].command and part.text.startswith(", "):
            # "…(install …), or restore both files": after its block, the sentence starts anew.
            rest = part.text[2:]
            part = Part(rest[:1].upper() + rest[1:])
        cleaned.append(part)
    return Step(tuple(cleaned), alternative=text.lstrip().lower().startswith("or "))


def parse_steps(remediation: Iterable[str]) -> list[Step]:
    return [parse_step(text) for text in remediation]


@datarecord
class StepGroup:
    """A numbered step and the alternatives that may replace it."""

    number: int
    step: Step
    alternatives: tuple[Step, ...] = ()


def group_steps(remediation: Iterable[str]) -> list[StepGroup]:
    """Steps numbered as a person does them: an alternative ("Or …") joins the step before it."""
    groups: list[StepGroup] = []
    for step in parse_steps(remediation):
        if step.alternative and groups:
            last = groups[-1]
            groups[-1] = StepGroup(last.number, last.step, (*last.alternatives, step))
        else:
            groups.append(StepGroup(len(groups) + 1, step))
    return groups
