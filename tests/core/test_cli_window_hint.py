"""`--help` says how to open the window, at the top and in every subcommand's help."""

from __future__ import annotations

import argparse

import pytest

from core.cli.parser import build_parser


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield (*path, name), command
                yield from _commands(command, (*path, name))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_main_help_says_no_command_opens_the_window(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = _one_line(capsys.readouterr().out)
    assert "Without a command the window opens: python main.py [IMAGE" in text
    assert "[--model M]" in text


def test_every_subcommand_help_says_it_too():
    commands = list(_commands(build_parser()))
    assert (
        len(commands) >= 9
    )  # generate, info, upscale, batch, outpaint, faces, diff, models, serve
    for path, command in commands:
        text = _one_line(command.format_help())
        assert "Without a command the window opens: python main.py" in text, " ".join(path)
