"""`kiosk` command line (docs/contracts.md §1). Each subcommand lives in its own module, imported only
when used, so `kiosk status` does not pay for OpenCV.

A subcommand module provides ``add_arguments(parser)`` and ``run(args) -> int``. Bad input
anywhere ends in one line on stderr and a non-zero exit, never a traceback (set
``KIOSK_DEBUG=1`` to see one).

What a person reads is Chinese unless asked otherwise: ``kiosk --lang en COMMAND …`` (the option
may also follow the command) or ``KIOSK_LANG=en`` (kiosk/i18n, docs/i18n.md). Machine-readable
output (``--json``, CSV) is never translated.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from kiosk import __version__, i18n
from kiosk.errors import KioskError, LanguageError, NotConfigured, StoreMismatch, TrustRootError
from kiosk.i18n import _

# name → one-line help; the command lives in kiosk/cli/<name>.py
COMMANDS: dict[str, str] = {
    "demo": "run the whole kiosk on stand-in hardware with a scripted crowd",
    "run": "run the kiosk service (systemd Type=notify)",
    "export": "export the pass log as CSV or JSON lines",
    "selftest": "technician's checklist of every part; exit 0 only if all pass",
    "status": "show the running kiosk's state",
    "purge": "delete acknowledged records past retention now",
    "recover": "recover the records of quarantined (damaged) pass logs for upload",
    "codes": "health codes: keygen, issue, verify, bundle",
    "voice": "render the voice clips (build) or say one message (say)",
    "audit": "verify the override audit trail of the pass log",
    "sync": "upload the backlog to the street server and refresh the trust bundle",
    "thermometer": "read the IR thermometer, or calibrate it against a reference",
    "decode": "read the QR codes in image files, one JSON line per image",
    "door": "door-sensor node of a household in home quarantine: run, demo",
    "retire-log": "after changing kiosk.id: move the old id's pass log aside so a new one starts",
}

EXIT_USAGE = 2
EXIT_ERROR = 1
EXIT_INTERNAL = 70
EXIT_CONFIG = 78          # sysexits EX_CONFIG: `kiosk run` is not configured; systemd must not restart it
EXIT_BROKEN_PIPE = 141    # what a shell reports for a command ended by SIGPIPE (128 + 13)


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush at exit meets no closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def take_lang(argv: list[str]) -> tuple[str | None, list[str]]:
    """``--lang X`` / ``--lang=X`` wherever it stands (before ``--``), and the rest of ``argv``."""
    lang: str | None = None
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest += argv[i:]
            break
        if a == "--lang":
            if i + 1 >= len(argv):
                raise LanguageError(f"--lang needs a language: choose one of {', '.join(i18n.LANGUAGES)}")
            lang = argv[i + 1]
            i += 2
            continue
        if a.startswith("--lang="):
            lang = a.partition("=")[2]
        else:
            rest.append(a)
        i += 1
    return lang, rest


def _top_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk", description="Checkpoint kiosk.")
    p.add_argument("--version", action="version", version=f"kiosk {__version__}")
    p.add_argument("--lang", choices=i18n.LANGUAGES,
                   help=f"language of what is printed (default ${i18n.ENV_VAR} or zh; JSON and CSV stay as they are)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_ in COMMANDS.items():
        sub.add_parser(name, help=help_, add_help=False)
    return p


def build_parser(command: str) -> tuple[argparse.ArgumentParser, object]:
    module = importlib.import_module(f"kiosk.cli.{command.replace('-', '_')}")
    parser = argparse.ArgumentParser(prog=f"kiosk {command}", description=COMMANDS[command])
    module.add_arguments(parser)
    return parser, module


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        lang, argv = take_lang(argv)
        i18n.use(lang)
    except LanguageError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        i18n.current()
    except LanguageError as exc:     # $KIOSK_LANG: a restart cannot fix it either
        print(f"kiosk: ${i18n.ENV_VAR}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if not argv or argv[0] not in COMMANDS:
        parser = _top_parser()
        if not argv:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        parser.parse_args(argv)     # prints usage + "invalid choice" and exits 2
        return EXIT_USAGE
    command = argv[0]
    try:
        parser, module = build_parser(command)
        args = parser.parse_args(argv[1:])
        return int(module.run(args) or 0)  # type: ignore[attr-defined]
    except BrokenPipeError:
        # the reader went away (`kiosk export | head`): nothing is wrong, and nothing to say
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE
    except (NotConfigured, StoreMismatch, TrustRootError) as exc:
        # nothing a restart can fix: systemd must not loop on it (RestartPreventExitStatus=78)
        print(f"kiosk {command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KioskError as exc:
        print(f"kiosk {command}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, ValueError) as exc:
        # drivers raise their own errors (which are OSError/ValueError); say it in one line
        if os.environ.get("KIOSK_DEBUG"):
            raise
        print(f"kiosk {command}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("KIOSK_DEBUG"):
            raise
        print(f"kiosk {command}: "
              + _("internal error: {error} (run with KIOSK_DEBUG=1 for details)").format(
                  error=f"{type(exc).__name__}: {exc}"), file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
