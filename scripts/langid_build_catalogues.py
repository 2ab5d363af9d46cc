"""UI catalogues of Debian packages used to BUILD language-id tables (identify_language@5).

    .venv/bin/python scripts/langid_build_catalogues.py      # fetch + unpack into .yuliao/langid-build/

These packages' gettext catalogues (.mo) are a build source: the Japanese-vs-Chinese kanji model
(scripts/build_kanji_model.py) learns from their ja, zh_CN, zh_TW and zh_HK translations. None of
them is a tuning or evaluation source of scripts/build_langid_eval.py (checked below, the script
stops if one is); docs/language.md lists the roles. Nothing derived from them is committed except
the trained model's weights.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from build_langid_eval import UI_EVAL, UI_TUNE, download, ui_rows  # noqa: E402

CACHE = ROOT / ".yuliao" / "langid-build"
BUILD_UI = (
    "atril-common", "audacious", "baobab", "brasero-common", "caja-common", "celluloid", "cheese-common",
    "cinnamon-l10n", "digikam-data", "dolphin", "eog", "evolution-common", "evolution-data-server-common",
    "filezilla-common", "gdm3", "gnome-builder", "gnome-calculator", "gnome-calendar", "gnome-characters",
    "gnome-clocks", "gnome-contacts", "gnome-control-center-data", "gnome-disk-utility", "gnome-font-viewer",
    "gnome-logs", "gnome-maps", "gnome-session-common", "gnome-settings-daemon-common", "gnome-shell-common",
    "gnome-software-common", "gnome-system-monitor", "gnome-weather", "gnucash-common", "gnupg-l10n", "gparted",
    "gvfs-common", "gwenview", "hexchat-common", "kcalc", "konsole", "libc-l10n", "libxfce4ui-common",
    "lightdm-gtk-greeter", "mate-control-center-common", "okular", "pavucontrol", "pidgin-data", "pluma-common",
    "remmina-common", "rhythmbox-data", "ristretto", "seahorse", "shotwell-common", "simple-scan", "systemsettings",
    "totem-common", "transmission-common", "vlc-l10n", "xfce4-power-manager-data", "xfce4-session", "xfce4-settings",
    "xfce4-terminal", "xfwm4", "yelp",
)
# Left out on purpose: libgtk-4-common (the same widget strings as the evaluation source libgtk-3-common)
# and engrampa-common (a fork of the evaluation source file-roller).
_overlap = set(BUILD_UI) & (set(UI_TUNE) | set(UI_EVAL))
if _overlap:
    raise SystemExit(f"build catalogues must not be tuning or evaluation sources: {sorted(_overlap)}")


def unpacked() -> Path:
    """Fetch (apt-get download) and unpack the build packages once; return the folder of trees."""
    return download(BUILD_UI, CACHE)


def build_rows() -> list[dict]:
    """Return every (text, label, source) translation and msgid of the build catalogues (deduplicated per label)."""
    tree = unpacked()
    seen: set[tuple[str, str]] = set()
    out = []
    for pkg in BUILD_UI:
        for r in ui_rows(tree, pkg):
            if (r["text"], r["label"]) not in seen:
                seen.add((r["text"], r["label"]))
                out.append(r)
    return out


def package_label_counts() -> dict[str, Counter]:
    """Return {text: Counter(label -> number of build packages whose translators wrote that very string)}."""
    tree = unpacked()
    out: dict[str, Counter] = defaultdict(Counter)
    for pkg in BUILD_UI:
        for text, label in {(r["text"], r["label"]) for r in ui_rows(tree, pkg)}:
            out[text][label] += 1
    return dict(out)


LATIN_LOCALES = ("ca", "cs", "da", "de", "es", "eu", "fi", "fr", "gl", "hu", "id", "it", "lt", "nb", "nl", "pl", "pt",
                 "pt_BR", "ro", "sk", "sl", "sv", "tr", "vi")


def latin_translations() -> list[dict]:
    """Return the build catalogues' translations into Latin-script languages other than English (label = locale)."""
    import gettext

    tree = unpacked()
    seen: set[tuple[str, str]] = set()
    out = []
    for pkg in BUILD_UI:
        for mo in sorted((tree / pkg).rglob("*.mo")):
            locale = mo.parts[mo.parts.index("locale") + 1] if "locale" in mo.parts else ""
            if locale not in LATIN_LOCALES:
                continue
            with mo.open("rb") as fp:
                try:
                    catalog = gettext.GNUTranslations(fp)._catalog  # noqa: SLF001
                except OSError:
                    continue
            for key, msgstr in catalog.items():
                msgid = key[0] if isinstance(key, tuple) else key
                if not msgid or not msgstr or msgstr == msgid:
                    continue
                text = " ".join(msgstr.split())
                label = locale[:2]
                if (text, label) not in seen:
                    seen.add((text, label))
                    out.append({"text": text, "label": label, "source": pkg})
    return out


if __name__ == "__main__":
    rows = build_rows()
    print(len(rows), Counter(r["label"] for r in rows))
