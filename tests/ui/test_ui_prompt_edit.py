from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette

from rhdesk.ui.prompt_edit import PromptEdit
from rhdesk.ui.style import problem_color


@pytest.fixture
def prompt(qtbot) -> PromptEdit:
    w = PromptEdit()
    qtbot.addWidget(w)
    w.resize(480, 160)
    w.show()
    return w


def counter_color(w: PromptEdit):
    return w.counter_label.palette().color(QPalette.ColorRole.WindowText)


def test_names_for_tests_and_screen_readers(prompt: PromptEdit) -> None:
    assert prompt.edit.objectName() == "promptEdit"
    assert prompt.edit.accessibleName() == "Prompt"
    assert prompt.edit.placeholderText().startswith("Describe the change")
    assert prompt.recent_button.objectName() == "recentPromptsButton"
    assert prompt.recent_button.toolTip()


def test_counter_counts_as_you_type(qtbot, prompt: PromptEdit) -> None:
    assert prompt.counter_text() == "0 / 2000"
    qtbot.keyClicks(prompt.edit, "Make it snow")
    assert prompt.counter_text() == "12 / 2000"
    prompt.set_text("x" * 1234)
    assert prompt.counter_text() == "1,234 / 2000"


def test_too_short_is_red_with_a_reason(qtbot, prompt: PromptEdit) -> None:
    red = problem_color(prompt.palette())
    assert prompt.reason_label.text() == "at least 5 characters"
    assert counter_color(prompt) != red  # empty is the starting state, not an error
    qtbot.keyClicks(prompt.edit, "sky")
    assert not prompt.is_valid()
    assert counter_color(prompt) == red
    assert prompt.reason_label.text() == "at least 5 characters"
    qtbot.keyClicks(prompt.edit, " red")
    assert prompt.is_valid()
    assert counter_color(prompt) != red
    assert prompt.reason_label.text() == ""


def test_whitespace_does_not_count_towards_the_minimum(prompt: PromptEdit) -> None:
    prompt.set_text("  ab      ")
    assert prompt.problem() == "at least 5 characters"


def test_too_long_is_red(prompt: PromptEdit) -> None:
    prompt.set_limits(5, 20)
    prompt.set_text("a" * 25)
    assert prompt.counter_text() == "25 / 20"
    assert prompt.reason_label.text() == "5 over the limit"
    assert counter_color(prompt) == problem_color(prompt.palette())
    prompt.set_limits(5, 2000)
    assert prompt.is_valid() and prompt.reason_label.text() == ""


def test_ctrl_enter_asks_to_run(qtbot, prompt: PromptEdit) -> None:
    prompt.set_text("Turn the sky into a sunset")
    with qtbot.waitSignal(prompt.run_requested, timeout=1000):
        qtbot.keyClick(prompt.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(prompt.run_requested, timeout=1000):
        qtbot.keyClick(
            prompt.edit,
            Qt.Key.Key_Enter,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.KeypadModifier,
        )
    assert prompt.text() == "Turn the sky into a sunset"  # no newline was typed


def test_plain_enter_types_a_newline(qtbot, prompt: PromptEdit) -> None:
    with qtbot.assertNotEmitted(prompt.run_requested):
        qtbot.keyClicks(prompt.edit, "one")
        qtbot.keyClick(prompt.edit, Qt.Key.Key_Return)
        qtbot.keyClicks(prompt.edit, "two")
    assert prompt.text() == "one\ntwo"


def test_text_changed_carries_the_text(qtbot, prompt: PromptEdit) -> None:
    with qtbot.waitSignal(prompt.text_changed) as sig:
        prompt.set_text("Add a rainbow")
    assert sig.args == ["Add a rainbow"]


def test_recent_prompt_replaces_text_as_one_undoable_edit(qtbot, prompt: PromptEdit) -> None:
    assert not prompt.recent_button.isEnabled()
    qtbot.keyClicks(prompt.edit, "my own words")
    prompt.set_recent(["Replace the sky with a sunset", "Make the cat wear a hat"])
    assert prompt.recent_button.isEnabled()
    actions = prompt.recent_menu.actions()
    assert [a.toolTip() for a in actions] == [
        "Replace the sky with a sunset",
        "Make the cat wear a hat",
    ]
    actions[1].trigger()
    assert prompt.text() == "Make the cat wear a hat"
    qtbot.keyClick(prompt.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert prompt.text() == "my own words"  # one Ctrl+Z, not one per character
    qtbot.keyClick(
        prompt.edit,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert prompt.text() == "Make the cat wear a hat"


def test_long_recent_prompts_are_shortened_in_the_menu(prompt: PromptEdit) -> None:
    long = "Replace the background with a foggy pine forest at dawn, " * 5
    prompt.set_recent([long, "  "])
    [action] = prompt.recent_menu.actions()  # blank prompts are skipped
    assert len(action.text()) < len(long)
    assert action.toolTip() == long


def test_ampersand_in_recent_prompt_is_not_a_mnemonic(prompt: PromptEdit) -> None:
    prompt.set_recent(["salt & pepper"])
    prompt.recent_menu.actions()[0].trigger()
    assert prompt.text() == "salt & pepper"
    assert "&&" in prompt.recent_menu.actions()[0].text()


def test_tab_leaves_the_editor(qtbot, prompt: PromptEdit) -> None:
    prompt.set_recent(["one prompt"])
    prompt.activateWindow()
    prompt.edit.setFocus()
    qtbot.waitUntil(prompt.edit.hasFocus)
    qtbot.keyClick(prompt.edit, Qt.Key.Key_Tab)
    assert "\t" not in prompt.text()
    assert not prompt.edit.hasFocus()
